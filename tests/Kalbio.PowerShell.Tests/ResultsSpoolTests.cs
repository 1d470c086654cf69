using System.IO;
using System.Net.Http;
using System.Text;
using Kalbio.Core.Api;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Model;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>A body above the spool threshold lives in a temporary file: memory stays flat, and the body reads the same every time.</summary>
    public sealed class ResultsSpoolTests
    {
        [Fact]
        public void A_body_above_the_threshold_is_spooled_holds_no_chunk_in_memory_and_reads_the_same_twice()
        {
            var inMemory = new ResultsPayloadBuilder("success", null, new[] { "id" }, null, new JsonValueWriter(), spoolThreshold: long.MaxValue);
            var spooled = new ResultsPayloadBuilder("success", null, new[] { "id" }, null, new JsonValueWriter(), spoolThreshold: 1024 * 1024);
            for (int i = 0; i < 100_000; i++)
            {
                var data = KalRecordResult.NewData();
                data["id"] = "CMP-" + i;
                data["smiles"] = "CC(=O)Oc1ccccc1C(=O)O";
                Assert.Null(inMemory.Add("rec-" + i, "matched", data, null));
                Assert.Null(spooled.Add("rec-" + i, "matched", data, null));
            }

            using ResultsPayload expected = inMemory.Complete();
            using ResultsPayload payload = spooled.Complete();
            Assert.False(expected.IsSpooled);
            Assert.True(payload.IsSpooled);
            Assert.InRange(payload.Length, 8_000_000, 12_000_000);
            Assert.Equal(0, payload.Buffer.Capacity);

            byte[] first = Read(payload);
            byte[] second = Read(payload);
            Assert.Equal(Read(expected), first);
            Assert.Equal(first, second);
            Assert.Equal(Encoding.UTF8.GetString(first), payload.ToText());
        }

        [Fact]
        public void A_body_expected_above_the_threshold_is_spooled_from_its_first_megabyte_and_a_smaller_one_is_not()
        {
            var large = new ResultsPayloadBuilder("success", null, null, null, new JsonValueWriter(), spoolThreshold: 16L * 1024 * 1024);
            var small = new ResultsPayloadBuilder("success", null, null, null, new JsonValueWriter(), spoolThreshold: 16L * 1024 * 1024);
            large.ExpectLength(16L * 1024 * 1024 + 1);
            small.ExpectLength(16L * 1024 * 1024);
            var data = KalRecordResult.NewData();
            data["smiles"] = "CC(=O)Oc1ccccc1C(=O)O";
            for (int i = 0; i < 50_000; i++)
            {
                Assert.Null(large.Add("rec-" + i, "matched", data, null));
                Assert.Null(small.Add("rec-" + i, "matched", data, null));
            }

            Assert.InRange(large.Length, 2_000_000, 8_000_000);
            using ResultsPayload spooled = large.Complete();
            using ResultsPayload inMemory = small.Complete();
            Assert.True(spooled.IsSpooled);
            Assert.False(inMemory.IsSpooled);
            Assert.Equal(Read(inMemory), Read(spooled));
        }

        [Fact]
        public void One_value_larger_than_the_threshold_is_spooled_too()
        {
            var builder = new ResultsPayloadBuilder("success", null, null, null, new JsonValueWriter(), spoolThreshold: 1024 * 1024);
            string value = new string('x', 3 * 1024 * 1024);
            var data = KalRecordResult.NewData();
            data["v"] = value;
            Assert.Null(builder.Add("r1", "matched", data, null));
            using ResultsPayload payload = builder.Complete();

            Assert.True(payload.IsSpooled);
            Assert.Equal("{\"status\":\"success\",\"records\":[{\"record_id\":\"r1\",\"status\":\"matched\",\"data\":{\"v\":\"" + value + "\"}}]}", Encoding.UTF8.GetString(Read(payload)));
        }

        private static byte[] Read(ResultsPayload payload)
        {
            using HttpContent content = payload.CreateContent();
            using var copy = new MemoryStream();
            content.CopyToAsync(copy).GetAwaiter().GetResult();
            return copy.ToArray();
        }
    }
}
