using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The sandbox's streaming check of a results body gives what a check over the whole parsed document gives (the
    /// reference below is the sandbox's former JsonDocument check): the same problems in the same order, the same
    /// syntax error message with its line and position, the same record count and record errors, however the body is
    /// cut into reads.
    /// </summary>
    public sealed class ResultsBodyValidatorTests : IClassFixture<SandboxFixture>
    {
        private static readonly HashSet<string> TopLevelFields = ["status", "message", "error_message", "key_field_names", "records"];
        private static readonly HashSet<string> RecordFields = ["record_id", "status", "data", "error_message"];
        private readonly SandboxFixture _sandbox;

        public ResultsBodyValidatorTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
        }

        public static IEnumerable<object[]> Bodies() => Corpus().Select((body, i) => new object[] { i });

        [Theory]
        [MemberData(nameof(Bodies))]
        public async Task A_body_gets_the_answer_of_a_whole_document_check_however_it_is_cut_into_reads(int index)
        {
            byte[] body = Corpus()[index];
            foreach (int chunk in new[] { 1, 2, 3, 7, 64, 1 << 20 })
            {
                await AssertSameAsReference(body, chunk);
            }
        }

        [Fact]
        public async Task Every_problem_is_listed_naming_fields_first_then_values_then_what_is_missing()
        {
            string body = "{\"records\":[{\"record_id\":\"\",\"status\":7,\"data\":[1],\"x\":1,\"status\":\"a\"},null,3,{\"record_id\":\"r\"},{\"record_id\":\"r\",\"status\":\"error\"}],\"message\":null,\"status\":\"done\",\"key_field_names\":[\"id\",null,2],\"extra\":{}}";

            ResultsValidation result = await ResultsBodyValidator.ValidateAsync(new MemoryStream(Encoding.UTF8.GetBytes(body)), CancellationToken.None);

            Assert.Equal(
                new[]
                {
                    "message: must not be null (leave the field out instead)",
                    "extra: is not a known field",
                    "records[0].x: is not a known field",
                    "records[0].status: is given more than once",
                    "records[0].record_id: must not be empty",
                    "records[0].status: must be a string",
                    "records[0].data: must be an object",
                    "records[1]: must not be null",
                    "records[2]: must be an object",
                    "records[3].status: is required",
                    "records[4].record_id: duplicates records[3].record_id 'r'",
                    "status: must be \"success\" or \"error\"",
                    "key_field_names[1]: must not be null",
                    "key_field_names[2]: must be a string",
                },
                result.Problems.Select(p => p.Field + ": " + p.Message));
            Assert.Equal(5, result.RecordCount);
            Assert.Equal(new RecordError("r", "error", null), Assert.Single(result.RecordErrors));
        }

        [Fact]
        public async Task A_syntax_error_after_other_problems_is_the_answer_with_its_line_and_position()
        {
            byte[] body = Encoding.UTF8.GetBytes("{\"status\":\"nope\",\n \"records\":[{\"record_id\":1}, {]}");
            JsonException whole = Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(body));

            JsonException thrown = await Assert.ThrowsAnyAsync<JsonException>(() => ResultsBodyValidator.ValidateAsync(new TrickleStream(body, 3), CancellationToken.None));

            Assert.Equal(whole.Message, thrown.Message);
            Assert.Contains("LineNumber: 1 | BytePositionInLine: ", thrown.Message);
        }

        [Fact]
        public async Task Over_HTTP_a_bad_body_is_answered_400_with_every_problem_and_a_good_one_is_recorded_as_sent()
        {
            _sandbox.State.SeedFile(new SeedFileRequest { FileId = "f-v", GeneratedSize = 10, Seed = 1 });
            _sandbox.State.CreateRegistration("op-v", "f-v");
            using var http = new HttpClient { BaseAddress = _sandbox.BaseUri };
            using HttpResponseMessage tokenAnswer = await http.PostAsync("auth/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = "sandbox-client",
                ["client_secret"] = "sandbox-secret",
            }));
            string token = JsonDocument.Parse(await tokenAnswer.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
            http.DefaultRequestHeaders.Add("X-Kal-Authorization", "Bearer " + token);

            using HttpResponseMessage bad = await http.PostAsync("operations/op-v/register/f-v/results", new StringContent("{\"records\":[{\"record_id\":\"a\"}],\"status\":null}", Encoding.UTF8, "application/json"));
            string badBody = await bad.Content.ReadAsStringAsync();
            using HttpResponseMessage broken = await http.PostAsync("operations/op-v/register/f-v/results", new StringContent("{\"status\":\"success\",", Encoding.UTF8, "application/json"));
            string brokenBody = await broken.Content.ReadAsStringAsync();
            string good = "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\",\"status\":\"matched\",\"data\":{\"id\":\"x\"}}]}  ";
            using HttpResponseMessage accepted = await http.PostAsync("operations/op-v/register/f-v/results", new StringContent(good, Encoding.UTF8, "application/json"));

            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal(
                "{\"code\":\"validation_error\",\"message\":\"status must not be null (leave the field out instead)\",\"details\":[{\"field\":\"status\",\"message\":\"must not be null (leave the field out instead)\"},{\"field\":\"records[0].status\",\"message\":\"is required\"}]}",
                badBody);
            Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
            JsonException whole = Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse("{\"status\":\"success\","));
            Assert.Equal("The body is not valid JSON: " + whole.Message, JsonDocument.Parse(brokenBody).RootElement.GetProperty("message").GetString());
            Assert.Equal(HttpStatusCode.NoContent, accepted.StatusCode);
            SubmissionRecord submission = Assert.Single(_sandbox.State.GetSubmissions());
            Assert.Equal(good, submission.Body);
            Assert.Equal(Encoding.UTF8.GetByteCount(good), submission.BodyLength);
            Assert.Equal(1, submission.RecordCount);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(good))), submission.Sha256);
        }

        private static async Task AssertSameAsReference(byte[] body, int chunk)
        {
            ResultsValidation? expected = null;
            Exception? expectedError = null;
            try
            {
                using JsonDocument document = await JsonDocument.ParseAsync(new MemoryStream(body));
                expected = Check(document.RootElement);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException)
            {
                expectedError = ex;
            }

            ResultsValidation? actual = null;
            Exception? actualError = null;
            try
            {
                actual = await ResultsBodyValidator.ValidateAsync(new TrickleStream(body, chunk), CancellationToken.None, bufferSize: Math.Min(chunk, 4096));
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException)
            {
                actualError = ex;
            }

            string what = $"body {Encoding.UTF8.GetString(body.Take(200).ToArray())} in reads of {chunk}";
            if (expectedError != null)
            {
                Assert.True(actualError != null, what + ": expected " + expectedError.Message);
                Assert.True(expectedError is JsonException == actualError is JsonException, what);
                Assert.True(expectedError.Message == actualError!.Message, $"{what}: {actualError.Message} instead of {expectedError.Message}");
                return;
            }

            Assert.True(actualError is null, what + ": " + actualError?.Message);
            Assert.Equal(expected!.Problems.Select(p => p.Field + ": " + p.Message), actual!.Problems.Select(p => p.Field + ": " + p.Message));
            Assert.Equal(expected.Status, actual.Status);
            Assert.Equal(expected.Message, actual.Message);
            Assert.Equal(expected.ErrorMessage, actual.ErrorMessage);
            Assert.Equal(expected.RecordCount, actual.RecordCount);
            Assert.Equal(expected.RecordErrors, actual.RecordErrors);
        }

        private static List<byte[]> Corpus()
        {
            var texts = new List<string>
            {
                "", "   ", "\n\n", "{}", "[]", "null", "\"text\"", "42", "{\"status\":\"success\"}", " {\"status\":\"error\",\"message\":\"m\",\"error_message\":\"m\"} \n",
                "{\"status\":\"success\"} x", "{\"status\":\"success\"}{}", "{\"status\":\"success\",}", "{\"status\":\"success\" // c\n}", "{\"status\":'success'}",
                "{\"status\":\"succ", "{\"status\":tru}", "{\"status\":1e}", "{\"status\":\"success\",\"records\":[", "{\"records\":[{\"record_id\":\"a\",\"status\":\"matched\"}]",
                "{\"status\":\"Success\"}", "{\"status\":null}", "{\"status\":[\"success\"]}", "{\"status\":{\"a\":[1,{}]}}", "{\"status\":\"success\",\"status\":\"error\"}",
                "{\"stat\\u0075s\":\"success\",\"\\u0072ecords\":[{\"record\\u005fid\":\"\\u00e9\",\"status\":\"error\",\"error_message\":\"\\n\"}]}",
                "{\"message\":1,\"error_message\":{},\"key_field_names\":\"id\",\"records\":{},\"status\":\"success\"}",
                "{\"key_field_names\":[\"id\",null,1,[],{\"a\":null},\"\"],\"status\":\"success\"}", "{\"key_field_names\":[],\"records\":[],\"status\":\"success\"}",
                "{\"records\":null,\"records\":[1],\"status\":\"success\"}", "{\"records\":[1],\"records\":null,\"status\":\"success\"}", "{\"zzz\":[[[]]],\"status\":\"success\",\"zzz\":1}",
                "{\"status\":\"success\",\"records\":[null,\"a\",[],[{\"record_id\":\"x\"}],{},{\"record_id\":null,\"status\":null,\"data\":null,\"error_message\":null}]}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\",\"status\":\"matched\",\"data\":{\"x\":[1,{\"y\":null}],\"record_id\":null}},{\"record_id\":\"a\",\"status\":\"not_found\"},{\"record_id\":\"a\",\"status\":\"x\",\"error_message\":\"e\"}]}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"\",\"status\":\"\",\"data\":\"d\",\"error_message\":5},{\"record_id\":5,\"status\":true,\"data\":[],\"error_message\":[1]}]}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\",\"record_id\":\"b\",\"status\":\"error\",\"x\":null,\"data\":{}},{\"status\":\"matched\"},{\"record_id\":\"b\"}]}",
                "{\"records\":[{\"record_id\":\"a\",\"status\":\"matched\"}],\"unknown\":true,\"message\":\"late\"}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\",\"status\":\"matched\",\"data\":{\"n\":-1.5e+3,\"t\":true,\"f\":false,\"z\":null,\"s\":\"\\ud83d\\ude00\"}}]}",
                "\uFEFF{\"status\":\"success\"}", "\uFEFF", "\uFEFF\uFEFF{}", " \uFEFF{}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\",\"status\":\"matched\",\"data\":{\"v\":\"" + new string('x', 100_000) + "\"}}]}",
                "{\"status\":\"success\",\"" + new string('k', 9000) + "\":1}",
                "{\"data\":" + string.Concat(Enumerable.Repeat("[", 70)) + string.Concat(Enumerable.Repeat("]", 70)) + "}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\",\"status\":\"matched\",\"data\":" + string.Concat(Enumerable.Repeat("{\"a\":", 62)) + "1" + new string('}', 62) + "}]}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\",\"status\":\"matched\",\"data\":" + string.Concat(Enumerable.Repeat("{\"a\":", 63)) + "1" + new string('}', 63) + "}]}",
                "{\"status\":\"success\",\n\"records\":[\n{\"record_id\":\"a\",\n\"status\":\"matched\"},\n{\"record_id\":\"b\" \"status\":\"matched\"}]}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\",\"status\":\"matched\"}]]",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\\x\",\"status\":\"matched\"}]}",
                "{\"status\":\"success\",\"records\":[{\"record_id\":\"a\tb\",\"status\":\"matched\"}]}",
            };
            var many = new StringBuilder("{\"status\":\"success\",\"key_field_names\":[\"id\"],\"records\":[");
            for (int i = 0; i < 2000; i++)
            {
                many.Append(i == 0 ? "" : ",").Append("{\"record_id\":\"r").Append(i % 1500).Append("\",\"status\":\"").Append(i % 7 == 0 ? "error" : "matched").Append('"');
                many.Append(i % 11 == 0 ? ",\"error_message\":\"e" + i + "\"" : "").Append(",\"data\":{\"id\":\"ID-").Append(i).Append("\"}}");
            }

            texts.Add(many.Append("]}").ToString());
            List<byte[]> bodies = texts.ConvertAll(t => Encoding.UTF8.GetBytes(t));
            // Text that is not UTF-8 in a record id, alone and before a syntax error.
            bodies.Add(Encoding.UTF8.GetBytes("{\"status\":\"success\",\"records\":[{\"record_id\":\"\u0001\",\"status\":\"matched\"}]}").Select(b => b == 1 ? (byte)0xFF : b).ToArray());
            bodies.Add(Encoding.UTF8.GetBytes("{\"status\":\"success\",\"records\":[{\"record_id\":\"\u0001\",\"status\":\"matched\"},]}").Select(b => b == 1 ? (byte)0xFF : b).ToArray());
            bodies.Add(Encoding.UTF8.GetBytes("{\"\u0001\":1,\"status\":\"success\"}").Select(b => b == 1 ? (byte)0xC3 : b).ToArray());
            return bodies;
        }

        // The sandbox's former check of a results body over a whole parsed document: the reference.
        private static ResultsValidation Check(JsonElement root)
        {
            var result = new ResultsValidation();
            List<ValidationDetail> problems = result.Problems;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problems.Add(new ValidationDetail("$", "must be a JSON object"));
                return result;
            }

            foreach (JsonProperty property in ResultsValidator.UniqueProperties(root, "", TopLevelFields, problems))
            {
                JsonElement value = property.Value;
                switch (property.Name)
                {
                    case "status":
                        if (value.ValueKind == JsonValueKind.String && value.GetString() is "success" or "error")
                        {
                            result.Status = value.GetString();
                        }
                        else
                        {
                            problems.Add(new ValidationDetail("status", "must be \"success\" or \"error\""));
                        }

                        break;
                    case "message":
                        result.Message = ResultsValidator.RequireString(value, "message", problems);
                        break;
                    case "error_message":
                        result.ErrorMessage = ResultsValidator.RequireString(value, "error_message", problems);
                        break;
                    case "key_field_names":
                        ValidateKeyFieldNames(value, problems);
                        break;
                    case "records":
                        ValidateRecords(value, result);
                        break;
                }
            }

            if (!root.TryGetProperty("status", out _))
            {
                problems.Add(new ValidationDetail("status", "is required"));
            }

            return result;
        }

        private static void ValidateKeyFieldNames(JsonElement value, List<ValidationDetail> problems)
        {
            if (value.ValueKind != JsonValueKind.Array)
            {
                problems.Add(new ValidationDetail("key_field_names", "must be an array of strings"));
                return;
            }

            int index = 0;
            foreach (JsonElement item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Null)
                {
                    problems.Add(new ValidationDetail($"key_field_names[{index}]", "must not be null"));
                }
                else if (item.ValueKind != JsonValueKind.String)
                {
                    problems.Add(new ValidationDetail($"key_field_names[{index}]", "must be a string"));
                }

                index++;
            }
        }

        private static void ValidateRecords(JsonElement value, ResultsValidation result)
        {
            List<ValidationDetail> problems = result.Problems;
            if (value.ValueKind != JsonValueKind.Array)
            {
                problems.Add(new ValidationDetail("records", "must be an array"));
                return;
            }

            var firstIndexById = new Dictionary<string, int>(StringComparer.Ordinal);
            int index = 0;
            foreach (JsonElement record in value.EnumerateArray())
            {
                string prefix = $"records[{index}]";
                if (record.ValueKind != JsonValueKind.Object)
                {
                    problems.Add(new ValidationDetail(prefix, record.ValueKind == JsonValueKind.Null ? "must not be null" : "must be an object"));
                    index++;
                    continue;
                }

                string? recordId = null;
                string? status = null;
                string? errorMessage = null;
                foreach (JsonProperty property in ResultsValidator.UniqueProperties(record, prefix + ".", RecordFields, problems))
                {
                    string field = $"{prefix}.{property.Name}";
                    switch (property.Name)
                    {
                        case "record_id":
                            recordId = ResultsValidator.RequireNonEmptyString(property.Value, field, problems);
                            break;
                        case "status":
                            status = ResultsValidator.RequireNonEmptyString(property.Value, field, problems);
                            break;
                        case "data":
                            if (property.Value.ValueKind != JsonValueKind.Object)
                            {
                                problems.Add(new ValidationDetail(field, "must be an object"));
                            }

                            break;
                        case "error_message":
                            errorMessage = ResultsValidator.RequireString(property.Value, field, problems);
                            break;
                    }
                }

                if (!record.TryGetProperty("record_id", out _))
                {
                    problems.Add(new ValidationDetail(prefix + ".record_id", "is required"));
                }

                if (!record.TryGetProperty("status", out _))
                {
                    problems.Add(new ValidationDetail(prefix + ".status", "is required"));
                }

                if (recordId is not null)
                {
                    if (firstIndexById.TryGetValue(recordId, out int first))
                    {
                        problems.Add(new ValidationDetail(prefix + ".record_id", $"duplicates records[{first}].record_id '{recordId}'"));
                    }
                    else
                    {
                        firstIndexById[recordId] = index;
                    }
                }

                if (recordId is not null && status is not null && (errorMessage is not null || status is "error" or "not_found"))
                {
                    result.RecordErrors.Add(new RecordError(recordId, status, errorMessage));
                }

                index++;
            }

            result.RecordCount = index;
        }

        /// <summary>Gives a body at most a few bytes a read, as a slow network would.</summary>
        private sealed class TrickleStream : MemoryStream
        {
            private readonly int _chunk;

            public TrickleStream(byte[] data, int chunk)
                : base(data)
            {
                _chunk = chunk;
            }

            public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
                base.ReadAsync(buffer[..Math.Min(buffer.Length, _chunk)], cancellationToken);
        }
    }
}
