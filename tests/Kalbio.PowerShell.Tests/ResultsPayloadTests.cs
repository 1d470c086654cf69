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
        public void A_lone_surrogate_in_a_record_is_refused_naming_the_field_and_the_body_is_dropped()
        {
            using ResultsPayloadBuilder builder = Builder(expected: new[] { "r\uD800", "r1", "r2", "r3", "r4" });
            Assert.Null(builder.Add("r0", "matched", Data(("name", "ok 🧪")), "fine 🧪"));
            KalInputException? id = builder.Add("r\uD800", "matched", null, null);
            KalInputException? again = builder.Add("r\uD800", "matched", null, null);
            KalInputException? status = builder.Add("r1", "ok\uDC00", null, null);
            KalInputException? message = builder.Add("r2", "error", null, "no match \uDC00\uD800");
            KalInputException? value = builder.Add("r3", "matched", Data(("name", "aspirin \uD83D")), null);
            KalInputException? key = builder.Add("r4", "matched", Data(("na\uDFFFme", "aspirin")), null);

            Assert.Equal("records[1] has a record_id that is not valid Unicode (it has a lone surrogate character at index 1) and cannot be sent as JSON.", id!.Message);
            // The refused id never entered the set: the same id again is refused for the same reason, not as a duplicate.
            Assert.Equal("records[2] has a record_id that is not valid Unicode (it has a lone surrogate character at index 1) and cannot be sent as JSON.", again!.Message);
            Assert.Equal("records[3] (record_id 'r1') has a status that is not valid Unicode (it has a lone surrogate character at index 2) and cannot be sent as JSON.", status!.Message);
            Assert.Equal("records[4] (record_id 'r2') has an error_message that is not valid Unicode (it has a lone surrogate character at index 9) and cannot be sent as JSON.", message!.Message);
            Assert.Equal("records[5] (record_id 'r3'): The text at data.name is not valid Unicode (it has a lone surrogate character at index 8) and cannot be sent as JSON.", value!.Message);
            Assert.Equal("records[6] (record_id 'r4'): The field name at data.na\uDFFFme is not valid Unicode (it has a lone surrogate character at index 2) and cannot be sent as JSON.", key!.Message);
            Assert.All(new[] { id, again, status, message, value, key }, problem => Assert.Equal("UnsupportedJsonValue", problem!.ErrorId));
            Assert.Equal(6, builder.InvalidRecordCount);
            Assert.False(builder.CanSend);
            Assert.Equal(0, builder.Length);

            var refused = Assert.Throws<KalInputException>(() => builder.Complete());
            Assert.Equal("RecordResultsInvalid", refused.ErrorId);
            Assert.StartsWith("6 record results are invalid (of 7); nothing was sent.", refused.Message);
            // Like a record without a status, one refused before its id was taken leaves that id without a result.
            Assert.Contains("3 expected records have no result ('r\uD800', 'r1', 'r2')", refused.Message);
        }

        [Fact]
        public void A_lone_surrogate_in_the_message_or_a_key_field_name_refuses_the_submission_at_once()
        {
            var message = Assert.Throws<KalInputException>(() => Builder("error", "bad file \uD800"));
            var key = Assert.Throws<KalInputException>(() => Builder(keys: new[] { "id", "\uDC00name" }));

            Assert.Equal("UnsupportedJsonValue", message.ErrorId);
            Assert.Equal("The message is not valid Unicode (it has a lone surrogate character at index 9) and cannot be sent as JSON.", message.Message);
            Assert.Equal("Message", message.ParamName);
            Assert.Equal("UnsupportedJsonValue", key.ErrorId);
            Assert.Equal("Key field name 2 is not valid Unicode (it has a lone surrogate character at index 0) and cannot be sent as JSON.", key.Message);
            Assert.Equal("KeyFieldName", key.ParamName);
        }

        [Fact]
        public void Surrogate_pairs_are_sent_as_given_in_every_field()
        {
            using ResultsPayloadBuilder builder = Builder("error", "file 🧪", new[] { "🧪id" });
            Assert.Null(builder.Add("r🧪", "matched 🧪", Data(("🧪id", "C-🧪")), "note 🧪"));

            Assert.Equal(
                "{\"status\":\"error\",\"message\":\"file \\uD83E\\uDDEA\",\"error_message\":\"file \\uD83E\\uDDEA\",\"key_field_names\":[\"\\uD83E\\uDDEAid\"],\"records\":[" +
                "{\"record_id\":\"r\\uD83E\\uDDEA\",\"status\":\"matched \\uD83E\\uDDEA\",\"data\":{\"\\uD83E\\uDDEAid\":\"C-\\uD83E\\uDDEA\"},\"error_message\":\"note \\uD83E\\uDDEA\"}]}",
                Text(builder));
        }

        [Fact]
        public void A_deferred_duplicate_check_finds_repeats_across_batches_with_their_lines_and_nothing_is_sent()
        {
            using ResultsPayloadBuilder builder = Builder();
            builder.DeferDuplicateCheck();
            for (int i = 0; i < 10_000; i++)
            {
                // records[5000] repeats records[10]; records[9999] repeats records[4097], posted in another batch.
                string id = i == 5000 ? "r10" : i == 9999 ? "r4097" : "r" + i;
                Assert.Null(builder.Add(id, "matched", null, null, line: i + 2));
            }

            Assert.Equal(0, builder.InvalidRecordCount);
            var problems = builder.TakeDeferredProblems();
            Assert.Equal(2, problems.Count);
            Assert.Equal("DuplicateRecordId", problems[0].Problem.ErrorId);
            Assert.Equal("records[5000] (record_id 'r10') repeats the record_id of records[10]. Each record may have only one result.", problems[0].Problem.Message);
            Assert.Equal(5002, problems[0].Line);
            Assert.Equal("records[9999] (record_id 'r4097') repeats the record_id of records[4097]. Each record may have only one result.", problems[1].Problem.Message);
            Assert.Equal(10_001, problems[1].Line);
            Assert.Equal(2, builder.InvalidRecordCount);
            Assert.False(builder.CanSend);
            Assert.Empty(builder.TakeDeferredProblems());
            var refused = Assert.Throws<KalInputException>(() => builder.Complete());
            Assert.Equal("RecordResultsInvalid", refused.ErrorId);
            Assert.StartsWith("2 record results are invalid (of 10,000)", refused.Message);
        }

        [Fact]
        public void A_deferred_duplicate_check_gives_the_body_of_the_immediate_one_and_is_waited_for_by_Complete()
        {
            string Body(bool deferred, bool repeat)
            {
                using ResultsPayloadBuilder builder = Builder(expected: Enumerable.Range(0, 9000).Select(i => "r" + i).Append("absent"));
                if (deferred)
                {
                    builder.DeferDuplicateCheck();
                }

                for (int i = 0; i < 9000; i++)
                {
                    builder.Add("r" + i, "matched", Data(("n", i)), null);
                }

                if (repeat)
                {
                    // Not taken: Complete must still wait for the check and refuse.
                    builder.Add("r8999", "matched", null, null);
                }

                try
                {
                    return Text(builder);
                }
                catch (KalInputException ex)
                {
                    return ex.ErrorId + ": " + ex.Message;
                }
            }

            Assert.Equal(Body(deferred: false, repeat: false), Body(deferred: true, repeat: false));
            Assert.StartsWith("RecordIdsNotAsExpected: The results do not match the expected record ids: 1 expected record has no result ('absent')", Body(deferred: true, repeat: false));
            Assert.StartsWith("RecordResultsInvalid: 1 record result is invalid (of 9,001)", Body(deferred: true, repeat: true));
        }

        [Fact]
        public void Disposing_a_builder_mid_file_stops_its_deferred_check()
        {
            var builder = Builder();
            builder.DeferDuplicateCheck();
            for (int i = 0; i < 100_000; i++)
            {
                builder.Add("r" + (i % 50_000), "matched", null, null);
            }

            Task disposing = Task.Run(builder.Dispose);
            Assert.True(disposing.Wait(TimeSpan.FromSeconds(30)), "Dispose waits for the check's thread, which must end once no more ids come.");
            Assert.Equal(0, builder.Length);
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

        [Fact]
        public void A_record_without_an_id_is_named_by_its_position_alone()
        {
            using ResultsPayloadBuilder builder = Builder();
            KalInputException? missing = builder.Add(null, "matched", null, null);
            KalInputException? blank = builder.Add("  ", "matched", null, null);

            Assert.Equal("RecordIdMissing", missing!.ErrorId);
            Assert.Equal("records[0] has no record_id. Every record result needs the id of the record it is for.", missing.Message);
            Assert.Equal("RecordIdMissing", blank!.ErrorId);
            Assert.StartsWith("records[1] has no record_id.", blank.Message);
            Assert.Equal(2, builder.InvalidRecordCount);
        }

        [Fact]
        public void A_rejected_record_takes_its_position_so_later_records_are_numbered_after_it()
        {
            using ResultsPayloadBuilder builder = Builder();
            KalInputException rejected = builder.Reject("RecordNotAResult", "is not a record result.", null, "text");
            KalInputException? next = builder.Add("r1", null, null, null);

            Assert.Equal("records[0] is not a record result.", rejected.Message);
            Assert.Equal("text", rejected.Target);
            Assert.StartsWith("records[1] (record_id 'r1') has no status", next!.Message);
            Assert.Equal(2, builder.RecordCount);
        }

        [Theory]
        [InlineData("")]
        [InlineData(" ")]
        public void An_empty_key_field_name_is_refused_among_good_ones(string bad)
        {
            var refused = Assert.Throws<KalInputException>(() => Builder(keys: new[] { "id", bad, "name" }));
            Assert.Equal("InvalidKeyFieldName", refused.ErrorId);
        }

        [Fact]
        public void An_empty_expected_record_id_is_refused_among_good_ones()
        {
            var refused = Assert.Throws<KalInputException>(() => Builder(expected: new[] { "r1", "", "r2" }));
            Assert.Equal("InvalidExpectedRecordId", refused.ErrorId);
        }

        [Fact]
        public void Results_for_exactly_the_expected_ids_in_any_order_can_be_sent()
        {
            using ResultsPayloadBuilder builder = Builder(expected: new[] { "r1", "r2" });
            Assert.True(builder.CanSend);
            Assert.Null(builder.Add("r2", "matched", null, null));
            Assert.Null(builder.Add("r1", "not_found", null, null));
            Assert.True(builder.CanSend);

            Assert.Equal(
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"r2\",\"status\":\"matched\"},{\"record_id\":\"r1\",\"status\":\"not_found\"}]}",
                Text(builder));
        }

        [Fact]
        public void Only_missing_expected_ids_are_named_as_missing()
        {
            using ResultsPayloadBuilder builder = Builder(expected: new[] { "r1", "r2", "r3" });
            Assert.Null(builder.Add("r2", "matched", null, null));
            Assert.True(builder.CanSend);

            var refused = Assert.Throws<KalInputException>(() => builder.Complete());
            Assert.Equal("RecordIdsNotAsExpected", refused.ErrorId);
            Assert.Equal("The results do not match the expected record ids: 2 expected records have no result ('r1', 'r3'). Nothing was sent.", refused.Message);
        }

        [Fact]
        public void Only_unexpected_ids_are_named_as_unexpected_the_first_ten_listed_and_the_body_dropped_at_the_first()
        {
            using ResultsPayloadBuilder builder = Builder(expected: new[] { "r1" });
            Assert.Null(builder.Add("r1", "matched", null, null));
            Assert.True(builder.Length > 0);
            Assert.Null(builder.Add("u1", "matched", null, null));
            Assert.False(builder.CanSend);
            Assert.Equal(0, builder.InvalidRecordCount);
            Assert.Equal(0, builder.Length);
            for (int i = 2; i <= 12; i++)
            {
                Assert.Null(builder.Add("u" + i, "matched", null, null));
            }

            var refused = Assert.Throws<KalInputException>(() => builder.Complete());
            Assert.Equal("RecordIdsNotAsExpected", refused.ErrorId);
            Assert.Equal(
                "The results do not match the expected record ids: 12 results are for a record that was not expected ('u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9', 'u10' and 2 more). Nothing was sent.",
                refused.Message);
        }

        [Fact]
        public void One_invalid_record_is_counted_in_the_singular_and_a_mismatch_is_told_too()
        {
            using ResultsPayloadBuilder builder = Builder(expected: new[] { "r1", "r2" });
            Assert.Null(builder.Add("r1", "matched", null, null));
            Assert.NotNull(builder.Add("x9", null, null, null));

            var refused = Assert.Throws<KalInputException>(() => builder.Complete());
            Assert.Equal("RecordResultsInvalid", refused.ErrorId);
            Assert.Equal(
                "1 record result is invalid (of 2); nothing was sent. Fix them and submit all the results again. Also, the results do not match the expected record ids: 1 expected record has no result ('r2').",
                refused.Message);
        }

        [Fact]
        public void Length_is_the_size_of_the_body_written_so_far()
        {
            using ResultsPayloadBuilder builder = Builder();
            Assert.Equal(Encoding.UTF8.GetByteCount("{\"status\":\"success\""), builder.Length);
            Assert.Null(builder.Add("r1", "matched", Data(("name", "é")), null));
            long written = builder.Length;

            string text = Text(builder);
            Assert.Equal(Encoding.UTF8.GetByteCount(text) - "]}".Length, written);
        }

        [Fact]
        public void A_refusal_names_the_wrong_value_itself_or_else_the_source_of_the_record()
        {
            var row = new object();
            using var builder = new ResultsPayloadBuilder("success", null, null, null, new JsonValueWriter(v => v is Uri ? throw new KalInputException("AddressNotAllowed", "is an address.") : v));

            KalInputException? notAnObject = builder.Add("r1", "matched", "just text", null, row);
            KalInputException? refusedByHost = builder.Add("r2", "matched", new Uri("https://example.org/"), null, row);

            Assert.Equal("RecordDataNotAnObject", notAnObject!.ErrorId);
            Assert.StartsWith("records[0] (record_id 'r1'): data must be a hashtable", notAnObject.Message);
            Assert.Equal("just text", notAnObject.Target);
            Assert.Equal("AddressNotAllowed", refusedByHost!.ErrorId);
            Assert.Equal("records[1] (record_id 'r2'): is an address.", refusedByHost.Message);
            Assert.Same(row, refusedByHost.Target);
        }

        [Fact]
        public void After_the_body_is_dropped_large_records_are_still_validated_and_later_problems_still_found()
        {
            using ResultsPayloadBuilder builder = Builder();
            Assert.NotNull(builder.Add("r0", null, null, null));
            Assert.Null(builder.Add("r1", "matched", Data(("notes", new string('n', 100_000)), ("list", Enumerable.Range(0, 5000).ToArray())), new string('e', 50_000)));
            KalInputException? later = builder.Add("r2", "matched", Data(("big", new string('b', 20_000)), ("mw", double.NaN)), null);
            Assert.Null(builder.Add("r3", "matched", Data(("big", new string('c', 200_000))), null));

            Assert.StartsWith("records[2] (record_id 'r2'): The value at data.mw is the number NaN", later!.Message);
            Assert.Equal(2, builder.InvalidRecordCount);
            Assert.Equal(0, builder.Length);
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
