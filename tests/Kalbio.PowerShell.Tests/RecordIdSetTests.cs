using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
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

        [Fact]
        public void The_empty_id_is_found_once_added_and_its_repeat_is_a_duplicate()
        {
            var set = new RecordIdSet();
            Assert.False(set.Contains(string.Empty));
            Assert.True(set.TryAdd(string.Empty, 4, out _));

            Assert.True(set.Contains(string.Empty));
            Assert.False(set.TryAdd(string.Empty, 9, out int first));
            Assert.Equal(4, first);
        }

        [Fact]
        public void An_id_that_is_not_valid_UTF16_repeated_is_a_duplicate_of_its_first_position()
        {
            var set = new RecordIdSet();
            Assert.True(set.TryAdd("a\uD800", 3, out _));
            Assert.True(set.TryAdd("a\uDC00", 5, out _));

            Assert.False(set.TryAdd("a\uD800", 7, out int first));
            Assert.Equal(3, first);
            Assert.Equal(2, set.Count);
        }

        [Theory]
        [InlineData(300)]
        [InlineData(1000)]
        [InlineData(40_000)]
        public void Ids_longer_than_255_bytes_are_told_apart_by_their_last_character_and_repeats_found(int length)
        {
            var set = new RecordIdSet();
            string id = new string('é', length / 2) + "a";
            string twin = new string('é', length / 2) + "b";

            Assert.True(set.TryAdd(id, 0, out _));
            Assert.True(set.TryAdd(twin, 1, out _));
            Assert.False(set.TryAdd(new string(id.ToCharArray()), 2, out int first));
            Assert.Equal(0, first);
            Assert.False(set.TryAdd(twin, 3, out first));
            Assert.Equal(1, first);
            Assert.True(set.Contains(id));
            Assert.False(set.Contains(new string('é', length / 2) + "c"));
        }

        [Fact]
        public void Ids_that_are_not_valid_UTF16_and_share_a_hash_code_are_still_told_apart()
        {
            // Both ids have lone surrogates, which a lenient encoder would turn into the same replacement bytes.
            (string first, string second) = SameHashPair();
            var set = new RecordIdSet();

            Assert.True(set.TryAdd(first, 0, out _));
            Assert.True(set.TryAdd(second, 1, out int position));
            Assert.Equal(1, position);
            Assert.Equal(2, set.Count);
        }

        [Fact]
        public void An_id_in_the_first_slot_of_the_table_is_found()
        {
            string id = FirstSlotId();
            var set = new RecordIdSet();
            Assert.True(set.TryAdd(id, 0, out _));

            Assert.True(set.Contains(id));
            Assert.False(set.TryAdd(id, 1, out int first));
            Assert.Equal(0, first);
        }

        [Theory]
        [InlineData(10)]
        [InlineData(ushort.MaxValue)]
        public void The_set_keeps_ids_of_up_to_65535_bytes_as_bytes_not_the_strings_themselves(int length)
        {
            var set = new RecordIdSet();
            WeakReference added = AddFreshId(set, length);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();

            Assert.False(added.IsAlive, "the set still holds the id string");
            Assert.True(set.Contains(new string('k', length)));
            Assert.False(set.TryAdd(new string('k', length), 1, out int first));
            Assert.Equal(0, first);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static WeakReference AddFreshId(RecordIdSet set, int length)
        {
            string id = new string('k', length);
            Assert.True(set.TryAdd(id, 0, out _));
            return new WeakReference(id);
        }

        private static (string First, string Second) SameHashPair()
        {
            // 1,048,576 ids of two lone low surrogates each: many pairs share a 32-bit hash (the birthday bound).
            var seen = new Dictionary<int, string>();
            for (char x = '\uDC00'; x <= '\uDFFF'; x++)
            {
                for (char y = '\uDC00'; y <= '\uDFFF'; y++)
                {
                    string id = new string(new[] { 'r', x, y });
                    int hash = StringComparer.Ordinal.GetHashCode(id);
                    if (seen.TryGetValue(hash, out string? other))
                    {
                        return (other, id);
                    }

                    seen.Add(hash, id);
                }
            }

            throw new InvalidOperationException("No two ids shared a hash code.");
        }

        private static string FirstSlotId()
        {
            // The table starts with 1,024 slots; an id whose hash is 0 in its low 10 bits goes in slot 0.
            for (int i = 0; ; i++)
            {
                string id = "rec-" + i;
                if ((StringComparer.Ordinal.GetHashCode(id) & 1023) == 0)
                {
                    return id;
                }
            }
        }
    }
}
