using System.Collections.Generic;
using Kalbio.Core.Api;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The compact duplicate check of record ids: the same answers as a Dictionary&lt;string, int&gt;.</summary>
    public sealed class RecordIdSetTests
    {
        [Fact]
        public void Finds_every_duplicate_with_its_first_position_among_many_ids_as_a_dictionary_would()
        {
            var set = new RecordIdSet();
            var reference = new Dictionary<string, int>();
            var ids = new List<string> { "a", "A", "é", "𝄞", "a\uD800", "a\uDC00", new string('x', 70_000), new string('x', 70_001), string.Empty };
            for (int i = 0; i < 300_000; i++)
            {
                ids.Add("rec-" + (i * 7919 % 200_000));
            }

            for (int position = 0; position < ids.Count; position++)
            {
                string id = ids[position];
                bool added = set.TryAdd(id, position, out int first);
                if (reference.TryGetValue(id, out int expected))
                {
                    Assert.False(added, id);
                    Assert.True(expected == first, $"position {position}, id of length {id.Length}: first {first}, expected {expected}");
                }
                else
                {
                    Assert.True(added, id);
                    Assert.Equal(position, first);
                    reference.Add(id, position);
                }
            }

            Assert.Equal(reference.Count, set.Count);
            Assert.True(set.Contains("rec-199999"));
            Assert.True(set.Contains("a\uDC00"));
            Assert.True(set.Contains(new string('x', 70_001)));
            Assert.False(set.Contains("rec-200000"));
            Assert.False(set.Contains("a\uDBFF"));
        }
    }
}
