using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Invoke-KalApiRequest in a hosted runspace against the sandbox's test resources (/programs, /echo/query).</summary>
    public sealed class InvokeKalApiRequestTests : IClassFixture<SandboxFixture>, IDisposable
    {
        private const string Fqid = ",Kalbio.PowerShell.Commands.InvokeKalApiRequestCommand";
        private readonly SandboxFixture _sandbox;
        private readonly HostedPowerShell _shell = new HostedPowerShell();

        public InvokeKalApiRequestTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
            var (_, errors) = _shell.Invoke(
                "Connect-KalApi -ClientId $id -ClientSecret (ConvertTo-SecureString $secret -AsPlainText -Force) -BaseUri $uri -RetryIntervalSec 0 -ErrorAction Stop",
                new Dictionary<string, object?> { ["id"] = SandboxOptions.DefaultClientId, ["secret"] = SandboxOptions.DefaultClientSecret, ["uri"] = _sandbox.BaseUri.ToString() });
            Assert.Empty(errors);
        }

        public void Dispose() => _shell.Dispose();

        private (IReadOnlyList<PSObject> Output, IReadOnlyList<ErrorRecord> Errors) Run(string script)
        {
            var (output, errors) = _shell.Invoke(script);
            return (output.ToList(), errors);
        }

        [Fact]
        public void Json_values_keep_their_types_and_objects_keep_their_property_order()
        {
            var (output, errors) = Run("Invoke-KalApiRequest GET programs/prg-1");

            Assert.Empty(errors);
            PSObject program = Assert.Single(output);
            Assert.IsType<PSCustomObject>(program.BaseObject);
            Assert.Equal(
                new[] { "id", "name", "active", "sample_count", "budget", "precise_ratio", "big_counter", "created_at", "owner", "tags", "stages", "notes" },
                program.Properties.Select(p => p.Name));
            Assert.Equal(true, program.Properties["active"].Value);
            Assert.Equal(1200L, program.Properties["sample_count"].Value);
            Assert.Equal(1234.5d, program.Properties["budget"].Value);
            // More digits than a double holds: kept exactly as a decimal.
            Assert.Equal(0.12345678901234567890m, program.Properties["precise_ratio"].Value);
            Assert.Equal(123456789012345678901234m, program.Properties["big_counter"].Value);
            // Dates stay as the server wrote them (offset included); no guessing.
            Assert.Equal("2024-05-01T12:00:00+02:00", program.Properties["created_at"].Value);
            Assert.Null(program.Properties["notes"].Value);

            var owner = (PSObject)program.Properties["owner"].Value;
            var team = (PSObject)owner.Properties["team"].Value;
            var site = (PSObject)team.Properties["site"].Value;
            Assert.Equal(3L, site.Properties["floor"].Value);
            var stages = (object[])program.Properties["stages"].Value;
            Assert.Equal(new object[] { 1L, 2L, 3L }, (object[])((PSObject)stages[0]).Properties["plates"].Value);
            Assert.Empty((object[])((PSObject)stages[1]).Properties["plates"].Value);
        }

        [Fact]
        public void Debug_shows_the_request_body_with_secret_fields_redacted_and_never_the_token()
        {
            var (_, errors) = Run(
                "$DebugPreference = 'Continue'; Invoke-KalApiRequest POST programs -Body @{ name = 'n'; password = 'hunter2-body-secret'; note = 'sandbox-secret' } 5>&1 | Where-Object { $_ -is [System.Management.Automation.DebugRecord] } | Out-String | Set-Variable -Name captured -Scope Global; $DebugPreference = 'SilentlyContinue'");
            Assert.Empty(errors);
            string captured = (string)_shell.Invoke("$captured").Output.Single().BaseObject;

            Assert.Contains("POST /programs", captured);
            Assert.Contains("Body: {", captured);
            Assert.Contains("\"password\":\"***\"", captured);
            Assert.DoesNotContain("hunter2-body-secret", captured);
            Assert.DoesNotContain(SandboxOptions.DefaultClientSecret, captured);
            Assert.Contains("X-Kal-Authorization: ***", captured);
            Assert.Contains("Response body: {\"id\":\"prg-created\"", captured);
            // The body itself went out unredacted.
            Assert.Contains("hunter2-body-secret", _sandbox.ApiRequests().Single(r => r.Method == "POST").Body);
        }

        [Fact]
        public void A_GET_is_retried_after_a_transient_failure()
        {
            _sandbox.State.AddFault(new FaultSpec { Method = "GET", PathPrefix = "/programs", Status = 502 });

            var (output, errors) = Run("Invoke-KalApiRequest GET programs");

            Assert.Empty(errors);
            Assert.Equal(2, output.Count);
            Assert.Equal(new[] { 502, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
        }

        [Theory]
        [InlineData("POST", "programs")]
        [InlineData("DELETE", "programs/prg-1")]
        public void Other_methods_are_not_sent_again_after_a_failure_the_server_may_have_acted_on(string method, string path)
        {
            _sandbox.State.AddFault(new FaultSpec { Method = method, PathPrefix = "/programs", Status = 500, Times = 5 });

            var (_, errors) = Run($"Invoke-KalApiRequest {method} {path} -Body @{{ name = 'n' }}");

            Assert.Equal("KalServerError" + Fqid, Assert.Single(errors).FullyQualifiedErrorId);
            Assert.Single(_sandbox.ApiRequests());
        }

        [Fact]
        public void A_POST_is_sent_again_after_a_503_because_the_server_did_not_process_it()
        {
            _sandbox.State.AddFault(new FaultSpec { Method = "POST", PathPrefix = "/programs", Status = 503, RetryAfter = "0" });

            var (output, errors) = Run("Invoke-KalApiRequest POST programs -Body @{ name = 'n' }");

            Assert.Empty(errors);
            Assert.Equal("prg-created", Assert.Single(output).Properties["id"].Value);
            Assert.Equal(new[] { 503, 201 }, _sandbox.ApiRequests().Select(r => r.Status));
        }

        [Fact]
        public void A_2xx_that_claims_json_but_is_not_is_a_clear_error_with_the_start_of_the_body()
        {
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/programs", Status = 200, Body = "<html><title>Sign-in portal</title></html>", ContentType = "application/json" });

            var (output, errors) = Run("Invoke-KalApiRequest GET programs");

            Assert.Empty(output);
            ErrorRecord error = Assert.Single(errors);
            Assert.Equal("KalInvalidResponse" + Fqid, error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidResult, error.CategoryInfo.Category);
            Assert.Contains("not valid JSON", error.Exception.Message);
            Assert.Contains("<html><title>Sign-in portal", error.Exception.Message);
            Assert.Contains("-Raw", error.Exception.Message);
        }

        [Fact]
        public void A_text_answer_is_written_as_text_and_a_binary_one_points_to_OutFile()
        {
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/programs", Status = 200, Body = "id,name\nprg-1,Kinase screen\n", ContentType = "text/csv; charset=utf-8" });
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/programs", Status = 200, Body = "PK\u0003\u0004zip", ContentType = "application/zip" });

            var (text, textErrors) = Run("Invoke-KalApiRequest GET programs");
            var (binary, binaryErrors) = Run("Invoke-KalApiRequest GET programs");

            Assert.Empty(textErrors);
            Assert.Equal("id,name\nprg-1,Kinase screen\n", Assert.Single(text).BaseObject);
            Assert.Empty(binary);
            ErrorRecord error = Assert.Single(binaryErrors);
            Assert.Equal("KalInvalidResponse" + Fqid, error.FullyQualifiedErrorId);
            Assert.Contains("application/zip", error.Exception.Message);
            Assert.Contains("-OutFile", error.Exception.Message);
        }

        [Fact]
        public void Raw_writes_the_body_text_unparsed()
        {
            var (output, errors) = Run("Invoke-KalApiRequest GET programs -Raw");

            Assert.Empty(errors);
            string text = Assert.IsType<string>(Assert.Single(output).BaseObject);
            Assert.StartsWith("[{\"id\":\"prg-1\"", text);
            Assert.Contains("\"big_counter\":123456789012345678901234", text);
        }

        [Fact]
        public void Json_that_a_PowerShell_object_cannot_hold_is_an_error_that_suggests_Raw()
        {
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/programs", Status = 200, Body = "{\"Name\":1,\"name\":2}" });

            var (output, errors) = Run("Invoke-KalApiRequest GET programs");

            Assert.Empty(output);
            ErrorRecord error = Assert.Single(errors);
            Assert.Equal("KalInvalidResponse" + Fqid, error.FullyQualifiedErrorId);
            Assert.Contains("'name' twice", error.Exception.Message);
            Assert.Contains("-Raw", error.Exception.Message);
        }

        [Fact]
        public void Paths_from_the_pipeline_are_requests_of_their_own_and_one_failure_does_not_stop_the_rest()
        {
            var (output, errors) = Run("'programs/prg-1', 'programs/nope', 'programs/prg-2' | Invoke-KalApiRequest GET");

            Assert.Equal(new object[] { "prg-1", "prg-2" }, output.Select(o => o.Properties["id"].Value));
            ErrorRecord error = Assert.Single(errors);
            Assert.Equal("KalNotFound" + Fqid, error.FullyQualifiedErrorId);
            Assert.Equal("programs/nope", error.TargetObject);
            Assert.Equal(3, _sandbox.ApiRequests().Count);
        }

        [Theory]
        [InlineData("Invoke-KalApiRequest GET programs -Body @{ a = 1 }", "BodyNotAllowed")]
        [InlineData("Invoke-KalApiRequest POST programs -Body @{ run = { 'script' } }", "UnsupportedJsonValue")]
        [InlineData("Invoke-KalApiRequest GET programs -Query @{ filter = @{ a = 1 } }", "InvalidQuery")]
        [InlineData("Invoke-KalApiRequest GET \"programs/a$([char]0xD800)\"", "InvalidApiPath")]
        [InlineData("Invoke-KalApiRequest GET programs -Query @{ q = \"$([char]0xDC00)\" }", "InvalidQuery")]
        [InlineData("Invoke-KalApiRequest POST programs -Body @{ name = \"aspirin $([char]0xD800)\" }", "UnsupportedJsonValue")]
        [InlineData("Invoke-KalApiRequest POST programs -Body @{ \"na$([char]0xDC00)me\" = 1 }", "UnsupportedJsonValue")]
        [InlineData("Invoke-KalApiRequest POST programs -Body \"{`\"name`\": `\"$([char]0xD800)`\"}\"", "UnsupportedJsonValue")]
        public void Input_that_cannot_make_a_valid_request_stops_before_anything_is_sent(string script, string errorId)
        {
            var (_, errors) = Run(script);

            ErrorRecord error = Assert.Single(errors);
            Assert.Equal(errorId + Fqid, error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
            Assert.Empty(_sandbox.ApiRequests());
        }

        [Fact]
        public void A_surrogate_pair_in_the_path_query_and_body_is_sent_as_given()
        {
            var (output, errors) = Run("Invoke-KalApiRequest POST 'programs?tag=🧪' -Query @{ q = '🧪' } -Body @{ name = 'aspirin 🧪' }");

            Assert.Empty(errors);
            Assert.Equal("aspirin 🧪", Assert.Single(output).Properties["name"].Value);
            RequestLogEntry request = _sandbox.ApiRequests().Single();
            Assert.Equal("tag=%F0%9F%A7%AA&q=%F0%9F%A7%AA", request.Query);
            Assert.Equal("{\"name\":\"aspirin \\uD83E\\uDDEA\"}", request.Body);
        }

        [Fact]
        public void Put_and_patch_send_their_body_and_return_the_answer()
        {
            var (output, errors) = Run("Invoke-KalApiRequest PATCH programs/prg-2 -Body ([pscustomobject]@{ active = $true; budget = 10.25 })");

            Assert.Empty(errors);
            Assert.Equal("{\"active\":true,\"budget\":10.25}", _sandbox.ApiRequests().Single().Body);
            Assert.Equal(10.25d, Assert.Single(output).Properties["budget"].Value);
        }
    }
}
