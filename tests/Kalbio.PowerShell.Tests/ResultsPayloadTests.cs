using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Api;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The streaming results body (no PowerShell): its exact JSON, its validation, its memory, and sending it.</summary>
    public sealed class ResultsPayloadTests : IClassFixture<SandboxFixture>
    {
        private readonly SandboxFixture _sandbox;

        public ResultsPayloadTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
        }

        private static ResultsPayloadBuilder Builder(string status = "success", string? message = null, IReadOnlyList<string>? keys = null, IEnumerable<string>? expected = null) =>
            new ResultsPayloadBuilder(status, message, keys, expected, new JsonValueWriter());

        private static string Text(ResultsPayloadBuilder builder)
        {
            using ResultsPayload payload = builder.Complete();
            return payload.ToText()!;
        }

        private static KalRecordData Data(params (string Key, object? Value)[] fields)
        {
            KalRecordData data = KalRecordResult.NewData();
            foreach ((string key, object? value) in fields)
            {
                data.Add(key, value);
            }

            return data;
        }

        [Fact]
        public void Leaves_out_every_field_that_was_not_given()
        {
            using ResultsPayloadBuilder builder = Builder();
            Assert.Equal("{\"status\":\"success\"}", Text(builder));
        }

        [Fact]
        public void Writes_the_fields_in_the_contract_order_with_the_message_twice()
        {
            using ResultsPayloadBuilder builder = Builder("error", "bad file", new[] { "id", "name" });
            Assert.Null(builder.Add("r1", "error", null, "no match"));
            Assert.Null(builder.Add("r2", "matched", Data(("id", "C-2"), ("mw", 180.16m), ("tags", new[] { "a", "b" })), null));
            Assert.Equal(
                "{\"status\":\"error\",\"message\":\"bad file\",\"error_message\":\"bad file\",\"key_field_names\":[\"id\",\"name\"],\"records\":[" +
                "{\"record_id\":\"r1\",\"status\":\"error\",\"error_message\":\"no match\"}," +
                "{\"record_id\":\"r2\",\"status\":\"matched\",\"data\":{\"id\":\"C-2\",\"mw\":180.16,\"tags\":[\"a\",\"b\"]}}]}",
                Text(builder));
        }

        [Fact]
        public void A_refused_submission_still_validates_every_later_record_and_counts_them()
        {
            using ResultsPayloadBuilder builder = Builder();
            KalInputException? missing = builder.Add("r1", null, null, null);
            KalInputException? duplicate = builder.Add("r0", "matched", null, null) ?? builder.Add("r0", "matched", null, null);
            KalInputException? unsendable = builder.Add("r3", "matched", Data(("when", double.NaN)), null);

            Assert.Equal("RecordStatusMissing", missing!.ErrorId);
            Assert.StartsWith("records[0] (record_id 'r1') has no status", missing.Message);
            Assert.Equal("DuplicateRecordId", duplicate!.ErrorId);
            Assert.StartsWith("records[2] (record_id 'r0') repeats the record_id of records[1]", duplicate.Message);
            Assert.Equal("UnsupportedJsonValue", unsendable!.ErrorId);
            Assert.StartsWith("records[3] (record_id 'r3'): The value at data.when is the number NaN", unsendable.Message);
            Assert.False(builder.CanSend);
            Assert.Equal(0, builder.Length);

            var refused = Assert.Throws<KalInputException>(() => builder.Complete());
            Assert.Equal("RecordResultsInvalid", refused.ErrorId);
            Assert.StartsWith("3 record results are invalid (of 4); nothing was sent.", refused.Message);
        }

        [Fact]
        public void Results_must_cover_exactly_the_expected_ids()
        {
            using ResultsPayloadBuilder builder = Builder(expected: Enumerable.Range(1, 15).Select(i => "r" + i).ToList());
            Assert.Null(builder.Add("r1", "matched", null, null));
            Assert.Null(builder.Add("x1", "matched", null, null));

            var refused = Assert.Throws<KalInputException>(() => builder.Complete());
            Assert.Equal("RecordIdsNotAsExpected", refused.ErrorId);
            Assert.Equal(
                "The results do not match the expected record ids: 14 expected records have no result ('r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11' and 4 more); 1 result is for a record that was not expected ('x1'). Nothing was sent.",
                refused.Message);
        }

        [Theory]
        [InlineData("Success")]
        [InlineData("done")]
        public void The_overall_status_is_success_or_error_exactly(string status)
        {
            var refused = Assert.Throws<KalInputException>(() => Builder(status));
            Assert.Equal("InvalidResultStatus", refused.ErrorId);
        }

        [Fact]
        public void Memory_follows_the_bytes_of_the_body_and_the_body_can_be_read_again_for_a_retry()
        {
            // Kept in memory (no spool threshold) to measure the chunks; spooling is ResultsSpoolTests'.
            using var builder = new ResultsPayloadBuilder("success", null, new[] { "id" }, null, new JsonValueWriter(), spoolThreshold: long.MaxValue);
            for (int i = 0; i < 200_000; i++)
            {
                Assert.Null(builder.Add("rec-" + i, "matched", Data(("id", "CMP-" + i), ("smiles", "CC(=O)Oc1ccccc1C(=O)O")), null));
            }

            using ResultsPayload payload = builder.Complete();
            long capacity = payload.Buffer.Capacity;
            Assert.InRange(payload.Length, 20_000_000, 22_000_000);
            Assert.InRange(capacity, payload.Length, payload.Length + ChunkedBuffer.LargestChunkSize + (payload.Length / 100));

            byte[] first = ReadContent(payload);
            byte[] second = ReadContent(payload);
            Assert.Equal(payload.Length, first.LongLength);
            Assert.Equal(first, second);
            Assert.EndsWith("{\"record_id\":\"rec-199999\",\"status\":\"matched\",\"data\":{\"id\":\"CMP-199999\",\"smiles\":\"CC(=O)Oc1ccccc1C(=O)O\"}}]}", Encoding.UTF8.GetString(first, first.Length - 200, 200));
        }

        [Fact]
        public async Task A_submission_answered_503_is_sent_again_with_the_same_bytes_and_lands_once()
        {
            _sandbox.State.SeedFile(new SeedFileRequest { FileId = "f1", Content = "id\n1\n" });
            _sandbox.State.CreateRegistration("op1", "f1");
            _sandbox.State.AddFault(new FaultSpec { Method = "POST", PathPrefix = "/operations/", Status = 503, RetryAfter = "0" });
            using KalConnection connection = TestConnections.To(_sandbox);
            using ResultsPayloadBuilder builder = Builder(keys: new[] { "id" });
            for (int i = 0; i < 1000; i++)
            {
                Assert.Null(builder.Add("r" + i, "matched", Data(("id", i)), null));
            }

            using ResultsPayload payload = builder.Complete();
            var sent = new List<long>();
            var log = new RecordingLog();
            await connection.Client.SubmitResultsAsync(RegistrationRef.To("op1", "f1"), payload, sent.Add, log, CancellationToken.None);

            IReadOnlyList<RequestLogEntry> attempts = _sandbox.ApiRequests();
            Assert.Equal(new[] { 503, 204 }, attempts.Select(a => a.Status));
            Assert.Equal(attempts[0].Body, attempts[1].Body);
            Assert.Equal(payload.ToText(), attempts[1].Body);
            SubmissionRecord submission = Assert.Single(_sandbox.State.GetSubmissions());
            Assert.Equal(1000, submission.RecordCount);
            Assert.Equal(payload.Length, sent.Last());
            Assert.Contains("retry 1 of 3", log.All);
        }

        [Fact]
        public void Record_data_keeps_its_order_and_finds_names_in_any_case_and_rows_sharing_names_stay_apart()
        {
            string[] names = { "id", "name" };
            var first = new KalRecordData(names, new object?[] { "C-1", "one" });
            var second = new KalRecordData(names, new object?[] { "C-2", "two" });
            first["NAME"] = "uno";
            first.Add("mw", 1.5);
            second.Remove("id");

            Assert.Equal(new[] { "id", "name", "mw" }, first.Keys.Cast<string>());
            Assert.Equal(new object?[] { "C-1", "uno", 1.5 }, first.Values.Cast<object?>());
            Assert.Equal(new[] { "name" }, second.Keys.Cast<string>());
            Assert.Equal("two", second["Name"]);
            Assert.Equal(new[] { "id", "name" }, names);
            Assert.Throws<ArgumentException>(() => first.Add("ID", "again"));
            Assert.Null(first["missing"]);
            Assert.Equal(new[] { "id=C-1", "name=uno", "mw=1.5" }, first.Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}"));
        }

        [Fact]
        public void Ids_are_checked_before_anything_is_sent()
        {
            var refused = Assert.Throws<KalInputException>(() => RegistrationRef.To("op1", "../f1"));
            Assert.Equal("InvalidId", refused.ErrorId);
        }

        private static byte[] ReadContent(ResultsPayload payload)
        {
            using HttpContent content = payload.CreateContent();
            Assert.Equal(payload.Length, content.Headers.ContentLength);
            Assert.Equal("application/json", content.Headers.ContentType!.MediaType);
            using var copy = new MemoryStream();
            content.CopyToAsync(copy).GetAwaiter().GetResult();
            return copy.ToArray();
        }
    }
}
