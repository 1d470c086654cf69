using System.Linq;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Webhook event parsing: the envelope is unknown, so the reader must be tolerant but never guess wrong.</summary>
    public sealed class RegistrationEventReaderTests
    {
        private static RegistrationEvent Single(string json) => RegistrationEventReader.Parse(json).Single();

        [Fact]
        public void Reads_the_fields_at_the_top_level()
        {
            RegistrationEvent e = Single("""
                {"event_type":"registration_submitted","event_id":"ev-1","created_at":"2026-11-28T10:00:00Z",
                 "operation_id":"op-1","file_id":"f-1","file_name":"compounds.csv",
                 "file_url":"https://storage.example.org/f-1?sig=a%2Fb","activity_id":"act-1","record_ids":["r1","r2"]}
                """);

            Assert.Equal("registration_submitted", e.EventType);
            Assert.Equal("ev-1", e.EventId);
            Assert.Equal(2026, e.CreatedAt!.Value.Year);
            Assert.Equal("op-1", e.OperationId);
            Assert.Equal("f-1", e.FileId);
            Assert.Equal("compounds.csv", e.FileName);
            Assert.Equal("https://storage.example.org/f-1?sig=a%2Fb", e.FileUrl);
            Assert.Equal("act-1", e.ActivityId);
            Assert.Equal(new[] { "r1", "r2" }, e.RecordIds);
        }

        [Fact]
        public void Reads_the_fields_nested_under_data_and_ignores_unknown_ones()
        {
            RegistrationEvent e = Single("""
                {"type":"registration_submitted","id":"x","workspace_id":"w","signature":{"alg":"none"},
                 "data":{"operation_id":"op-2","file_id":"f-2","file_name":"a.csv","record_ids":["r1"],"extra":[1,2,3]}}
                """);

            Assert.Equal("registration_submitted", e.EventType);
            Assert.Equal("op-2", e.OperationId);
            Assert.Equal("f-2", e.FileId);
            Assert.Equal("a.csv", e.FileName);
            Assert.Null(e.FileUrl);
            Assert.Null(e.ActivityId);
            Assert.Equal(new[] { "r1" }, e.RecordIds);
        }

        [Fact]
        public void A_null_top_level_field_falls_back_to_the_one_under_data()
        {
            RegistrationEvent e = Single("""{"file_id":null,"operation_id":"op","data":{"file_id":"f-3"}}""");

            Assert.Equal("f-3", e.FileId);
        }

        [Fact]
        public void Accepts_camelCase_and_PascalCase_names_and_numeric_ids()
        {
            RegistrationEvent e = Single("""{"operationId":"op","FileId":42,"recordIds":[7,"r8"]}""");

            Assert.Equal("op", e.OperationId);
            Assert.Equal("42", e.FileId);
            Assert.Equal(new[] { "7", "r8" }, e.RecordIds);
        }

        [Fact]
        public void An_array_of_events_gives_one_event_each()
        {
            var events = RegistrationEventReader.Parse("""[{"operation_id":"o","file_id":"a"},{"data":{"operation_id":"o","file_id":"b"}}]""");

            Assert.Equal(new[] { "a", "b" }, events.Select(e => e.FileId));
            Assert.All(events, e => Assert.Empty(e.RecordIds));
        }

        [Theory]
        [InlineData("{\"operation_id\":\"op\",\"file_id\":")]
        [InlineData("not json")]
        [InlineData("")]
        [InlineData("{\"a\":1}{\"b\":2}")]
        public void Malformed_JSON_is_a_clear_error(string json)
        {
            var error = Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse(json));

            Assert.Equal(RegistrationEventReader.InvalidJsonErrorId, error.ErrorId);
            Assert.StartsWith("The webhook event cannot be read:", error.Message);
        }

        [Theory]
        [InlineData("{\"operation_id\":\"op\",\"data\":{\"file_name\":\"a.csv\"}}", "file_id")]
        [InlineData("{\"file_id\":\"f\"}", "operation_id")]
        [InlineData("{\"file_id\":\"\",\"operation_id\":\"op\"}", "file_id")]
        public void A_missing_file_or_operation_id_is_an_error_naming_it_and_what_was_found(string json, string missing)
        {
            var error = Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse(json));

            Assert.Equal(RegistrationEventReader.MissingFieldErrorId, error.ErrorId);
            Assert.Contains($"has no {missing}", error.Message);
            Assert.Contains("found", error.Message);
        }

        [Theory]
        [InlineData("[1]", "is a number, not a JSON object")]
        [InlineData("{\"operation_id\":\"op\",\"file_id\":{\"id\":\"f\"}}", "file_id as an object; it must be a string")]
        [InlineData("{\"operation_id\":\"op\",\"file_id\":\"f\",\"record_ids\":{\"a\":1}}", "it must be an array of record id strings")]
        [InlineData("{\"operation_id\":\"op\",\"file_id\":\"f\",\"record_ids\":[\"r1\",null]}", "record_ids[1] as null")]
        [InlineData("{\"operation_id\":\"op\",\"file_id\":\"../etc/passwd\"}", "unusable file_id")]
        public void Fields_of_the_wrong_shape_are_errors_saying_what_is_wrong(string json, string expected)
        {
            var error = Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse(json));

            Assert.Equal(RegistrationEventReader.InvalidEventErrorId, error.ErrorId);
            Assert.Contains(expected, error.Message);
        }

        [Theory]
        [InlineData("{\"a\": 1}", "Complete")]
        [InlineData("[1, 2]", "Complete")]
        [InlineData("{\"a\":", "Incomplete")]
        [InlineData("{", "Incomplete")]
        [InlineData("   ", "Incomplete")]
        [InlineData("{\"a\": }", "Invalid")]
        [InlineData("not json", "Invalid")]
        [InlineData("{\"a\":1}{\"b\":2}", "Invalid")]
        public void Tells_a_whole_JSON_value_from_the_start_of_one_and_from_text_that_can_never_be_one(string text, string expected) =>
            Assert.Equal(expected, RegistrationEventReader.Classify(text).ToString());

        [Fact]
        public void An_empty_body_and_text_that_is_not_JSON_are_told_apart_and_the_second_says_where()
        {
            Assert.Equal("The webhook event cannot be read: it is empty.", Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse(string.Empty)).Message);
            Assert.StartsWith("The webhook event cannot be read: it is not valid JSON (line 2, position 8)", Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("{\"a\": 1,\n  \"b\": }")).Message);
        }

        [Fact]
        public void A_trailing_comma_is_not_JSON()
        {
            var error = Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("{\"operation_id\":\"op\",\"file_id\":\"f\",}"));

            Assert.Equal(RegistrationEventReader.InvalidJsonErrorId, error.ErrorId);
        }

        [Fact]
        public void An_unknown_field_nested_100_deep_is_ignored_and_300_deep_is_refused()
        {
            string deep = new string('[', 100) + new string(']', 100);
            Assert.Equal("f", Single("{\"operation_id\":\"op\",\"file_id\":\"f\",\"extra\":" + deep + "}").FileId);
            Assert.Equal(JsonCompleteness.Complete, RegistrationEventReader.Classify(deep));
            Assert.Equal(JsonCompleteness.Incomplete, RegistrationEventReader.Classify(new string('[', 100)));

            string deeper = new string('[', 300) + new string(']', 300);
            Assert.Equal(RegistrationEventReader.InvalidJsonErrorId, Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse(deeper)).ErrorId);
            Assert.Equal(JsonCompleteness.Invalid, RegistrationEventReader.Classify(deeper));
        }

        [Fact]
        public void An_error_in_an_array_of_events_names_the_position_of_the_event()
        {
            var error = Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("[{\"operation_id\":\"o\",\"file_id\":\"a\"},{\"operation_id\":\"o\"}]"));
            Assert.StartsWith("The webhook event at [1] has no file_id", error.Message);

            Assert.Equal("The webhook event at [0] is a number, not a JSON object.", Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("[1]")).Message);
            Assert.Equal("The webhook event is a string, not a JSON object.", Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("\"x\"")).Message);
        }

        [Fact]
        public void Event_type_is_preferred_over_an_envelope_type()
        {
            Assert.Equal("registration_submitted", Single("{\"type\":\"webhook\",\"event_type\":\"registration_submitted\",\"operation_id\":\"o\",\"file_id\":\"f\"}").EventType);
        }

        [Fact]
        public void A_data_field_that_is_not_an_object_is_ignored_like_any_unknown_field()
        {
            RegistrationEvent e = Single("{\"operation_id\":\"op\",\"file_id\":\"f\",\"data\":\"text\"}");

            Assert.Equal("f", e.FileId);
        }

        [Fact]
        public void A_missing_id_error_lists_the_fields_found_or_says_there_were_none()
        {
            Assert.Contains("found no fields at all)", Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("{}")).Message);
            Assert.Contains("found only file_id, data, data.x)", Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("{\"file_id\":\"f\",\"data\":{\"x\":1}}")).Message);
        }

        [Fact]
        public void A_missing_id_error_lists_at_most_the_first_12_fields()
        {
            string fields = string.Join(",", Enumerable.Range(1, 13).Select(i => $"\"f{i}\":1"));

            var error = Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("{" + fields + "}"));

            Assert.Contains("found only " + string.Join(", ", Enumerable.Range(1, 12).Select(i => $"f{i}")) + ")", error.Message);
        }

        [Fact]
        public void An_empty_record_id_is_an_error_saying_so()
        {
            var error = Assert.Throws<KalInputException>(() => RegistrationEventReader.Parse("{\"operation_id\":\"op\",\"file_id\":\"f\",\"record_ids\":[\"r1\",\"\"]}"));

            Assert.Equal(RegistrationEventReader.InvalidEventErrorId, error.ErrorId);
            Assert.Contains("has record_ids[1] as an empty string;", error.Message);
        }
    }
}
