using System.IO;
using System.Net.Http;
using System.Text;
using System.Threading;
using Kalbio.Core.Api;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The JSON Lines reader splits lines across its read blocks exactly, and gives the CSV reader's body for the same records.</summary>
    public sealed class ResultsJsonLinesFileTests
    {
        [Theory]
        [InlineData("\n", true)]
        [InlineData("\r\n", false)]
        public void Many_lines_across_read_blocks_give_the_body_of_the_same_records_read_from_CSV(string newline, bool finalNewline)
        {
            string directory = Directory.CreateTempSubdirectory("kalbio-jsonl-").FullName;
            try
            {
                var csv = new StringBuilder("record_id,status,value" + newline);
                var jsonl = new StringBuilder();
                for (int i = 0; i < 20_000; i++)
                {
                    // Lengths that vary, so that line ends fall at every position of a read block.
                    string value = new string((char)('a' + (i % 26)), i % 97) + "é\"" + i;
                    csv.Append('r').Append(i).Append(",matched,\"").Append(value.Replace("\"", "\"\"")).Append('"').Append(newline);
                    jsonl.Append("{\"record_id\":\"r").Append(i).Append("\",\"status\":\"matched\",\"data\":{\"value\":\"").Append(value.Replace("\"", "\\\"")).Append("\"}}");
                    if (i < 19_999 || finalNewline)
                    {
                        jsonl.Append(newline);
                    }
                }

                string csvPath = Path.Combine(directory, "same.csv");
                string jsonlPath = Path.Combine(directory, "same.jsonl");
                File.WriteAllText(csvPath, csv.ToString());
                File.WriteAllText(jsonlPath, jsonl.ToString());

                byte[] viaCsv = Body(builder => ResultsCsvFile.Read(csvPath, null, ',', null, builder, Fail, _ => { }, CancellationToken.None));
                byte[] viaJsonLines = Body(builder => ResultsJsonLinesFile.Read(jsonlPath, null, builder, Fail, _ => { }, CancellationToken.None));

                Assert.True(viaCsv.Length > 1_000_000);
                Assert.Equal(viaCsv, viaJsonLines);
            }
            finally
            {
                Directory.Delete(directory, true);
            }
        }

        [Fact]
        public void An_escaped_lone_surrogate_is_refused_with_its_line_and_an_escaped_pair_is_sent_as_given()
        {
            string path = Path.GetTempFileName();
            try
            {
                File.WriteAllText(path, string.Join(
                    "\n",
                    "{\"record_id\":\"r1\",\"status\":\"matched\",\"data\":{\"name\":\"\\ud83e\\uddea\",\"list\":[\"\\ud83e\\uddea\"]}}",
                    "{\"record_id\":\"r2\\ud800\",\"status\":\"matched\"}",
                    "{\"record_id\":\"r3\",\"status\":\"matched\",\"data\":{\"name\":\"x\\udc00\"}}",
                    "{\"record_id\":\"r4\",\"status\":\"matched\",\"data\":{\"list\":[\"ok\",\"\\udc00\\ud800\"]}}",
                    "{\"record_id\":\"r5\",\"status\":\"matched\",\"data\":{\"na\\ud800me\":1}}"));
                var problems = new System.Collections.Generic.List<KalInputException>();
                using var builder = new ResultsPayloadBuilder("success", null, null, null, new JsonValueWriter());

                ResultsJsonLinesFile.Read(path, null, builder, problems.Add, _ => { }, CancellationToken.None);

                Assert.Equal(new[] { "ResultsLineNotJson", "ResultsLineNotJson", "UnsupportedJsonValue", "ResultsLineNotJson" }, problems.ConvertAll(p => p.ErrorId));
                for (int i = 0; i < problems.Count; i++)
                {
                    Assert.StartsWith($"Line {i + 2} of ", problems[i].Message);
                }

                Assert.Contains("surrogate", problems[0].Message);
                Assert.Contains("records[3] (record_id 'r4'): The JSON at data.list cannot be sent as JSON: ", problems[2].Message);
                Assert.Equal(4, builder.InvalidRecordCount);
                Assert.Throws<KalInputException>(() => builder.Complete());
            }
            finally
            {
                File.Delete(path);
            }
        }

        private static void Fail(KalInputException problem) => Assert.Fail(problem.Message);

        private static byte[] Body(System.Action<ResultsPayloadBuilder> read)
        {
            using var builder = new ResultsPayloadBuilder("success", null, null, null, new JsonValueWriter());
            read(builder);
            using ResultsPayload payload = builder.Complete();
            using HttpContent content = payload.CreateContent();
            using var copy = new MemoryStream();
            content.CopyToAsync(copy).GetAwaiter().GetResult();
            return copy.ToArray();
        }
    }
}
