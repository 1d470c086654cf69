using System.Linq;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;
using Kalbio.Sandbox;
using Xunit;
using RegistrationFile = Kalbio.PowerShell.Model.RegistrationFile;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The registration lifecycle calls of the core against the sandbox.</summary>
    public sealed class RegistrationsApiTests : IClassFixture<SandboxFixture>
    {
        private const string Operation = "op 1+é";
        private const string FileId = "file-1";

        private readonly SandboxFixture _sandbox;

        public RegistrationsApiTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
            _sandbox.State.SeedFile(new SeedFileRequest { FileId = FileId, FileName = "a.csv", Content = "record_id,name\nr1,A\nr2,B\n" });
        }

        private async Task<KalConnection> Connected()
        {
            KalConnection connection = TestConnections.To(_sandbox);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            return connection;
        }

        [Fact]
        public async Task Register_posts_an_empty_object_to_the_escaped_path_and_reads_the_registration_file()
        {
            using KalConnection connection = await Connected();

            RegistrationFile registration = await connection.Client.RegisterFileAsync(RegistrationRef.To("op-1", FileId), NullKalLog.Instance, CancellationToken.None);

            RequestLogEntry request = _sandbox.ApiRequests().Single();
            Assert.Equal("POST", request.Method);
            Assert.Equal("/operations/op-1/register/file-1", request.Path);
            Assert.Equal("{}", request.Body);
            Assert.Equal("op-1", registration.OperationId);
            Assert.Equal(FileId, registration.FileId);
            Assert.Equal(RegistrationStatus.Pending, registration.Status);
            Assert.Equal(SandboxState.WorkspaceId, registration.WorkspaceId);
            Assert.Equal(SandboxOptions.DefaultClientId, registration.CreatedBy);
            Assert.NotNull(registration.CreatedAt);
            Assert.Empty(registration.RecordErrors);
        }

        [Fact]
        public async Task Listing_reads_record_errors_after_results_with_failed_records()
        {
            using KalConnection connection = await Connected();
            await connection.Client.RegisterFileAsync(RegistrationRef.To(Operation, FileId), NullKalLog.Instance, CancellationToken.None);
            string results = """
                {"status":"success","records":[{"record_id":"r1","status":"matched"},{"record_id":"r2","status":"not_found","error_message":"No such compound"}]}
                """;
            await connection.Client.Http.SendForTextAsync(
                new KalRequest(HttpMethod.Post, connection.Client.ApiUri(KalIds.Path("operations", Operation, "register", FileId, "results"))) { CreateContent = () => new StringContent(results, Encoding.UTF8, "application/json") },
                NullKalLog.Instance,
                CancellationToken.None);

            var registrations = await connection.Client.GetRegistrationsAsync(RegistrationRef.ToOperation(Operation), NullKalLog.Instance, CancellationToken.None);

            Assert.Equal("/operations/op%201%2B%C3%A9/registrations", _sandbox.ApiRequests()[^1].Path);
            RegistrationFile registration = Assert.Single(registrations);
            Assert.Equal(RegistrationStatus.Completed, registration.Status);
            RegistrationRecordError error = Assert.Single(registration.RecordErrors);
            Assert.Equal("r2", error.SourceRecordId);
            Assert.Equal("not_found", error.Status);
            Assert.Equal("No such compound", error.ErrorMessage);
        }

        [Fact]
        public async Task Message_falls_back_to_the_legacy_error_message_when_null()
        {
            using KalConnection connection = await Connected();
            _sandbox.State.AddFault(new FaultSpec
            {
                PathPrefix = "/operations/op-1/registrations",
                Status = 200,
                Body = """
                    [{"id":"1","operation_id":"op-1","file_id":"a","status":"failed","message":null,"error_message":"Legacy reason","unknown":{"x":1}},
                     {"id":"2","operation_id":"op-1","file_id":"b","status":"completed","message":"New reason","error_message":"Old reason","record_errors":null}]
                    """,
            });

            var registrations = await connection.Client.GetRegistrationsAsync(RegistrationRef.ToOperation("op-1"), NullKalLog.Instance, CancellationToken.None);

            Assert.Equal("Legacy reason", registrations[0].Message);
            Assert.Equal("Legacy reason", registrations[0].ErrorMessage);
            Assert.Equal("New reason", registrations[1].Message);
            Assert.Equal("Old reason", registrations[1].ErrorMessage);
            Assert.Empty(registrations[1].RecordErrors);
        }

        [Fact]
        public async Task A_listing_that_is_not_an_array_is_an_invalid_response_error()
        {
            using KalConnection connection = await Connected();
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/op-1/registrations", Status = 200, Body = "<html>login</html>", ContentType = "text/html" });

            var error = await Assert.ThrowsAsync<KalApiException>(() => connection.Client.GetRegistrationsAsync(RegistrationRef.ToOperation("op-1"), NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalErrorKind.InvalidResponse, error.Kind);
            Assert.Contains("not JSON", error.Message);
        }

        [Theory]
        [InlineData("validated", null, """{"status":"validated"}""")]
        [InlineData("VALIDATION_FAILED", "Column \"smiles\" is missing", """{"status":"validation_failed","message":"Column \"smiles\" is missing"}""")]
        public async Task Set_status_sends_the_status_and_only_a_given_message(string status, string? message, string expectedBody)
        {
            using KalConnection connection = await Connected();
            await connection.Client.RegisterFileAsync(RegistrationRef.To("op-1", FileId), NullKalLog.Instance, CancellationToken.None);

            await connection.Client.SetStatusAsync(RegistrationRef.To("op-1", FileId), status, message, NullKalLog.Instance, CancellationToken.None);

            RequestLogEntry request = _sandbox.ApiRequests()[^1];
            Assert.Equal("/operations/op-1/registration_files/file-1/status", request.Path);
            Assert.Equal(204, request.Status);
            Assert.Equal(expectedBody, request.Body);
            Assert.Equal(status.ToLowerInvariant(), _sandbox.State.GetRegistration("op-1", FileId)!.Status);
        }

        [Fact]
        public async Task A_status_outside_the_lifecycle_is_refused_before_anything_is_sent()
        {
            using KalConnection connection = await Connected();

            var error = await Assert.ThrowsAsync<KalInputException>(() => connection.Client.SetStatusAsync(RegistrationRef.To("op-1", FileId), "approved", null, NullKalLog.Instance, CancellationToken.None));

            Assert.Equal("InvalidRegistrationStatus", error.ErrorId);
            Assert.Contains("pending, validated, validation_failed, submitted, completed, failed", error.Message);
            Assert.Empty(_sandbox.ApiRequests());
        }

        [Fact]
        public async Task A_message_with_a_lone_surrogate_is_refused_before_anything_is_sent()
        {
            using KalConnection connection = await Connected();

            var error = await Assert.ThrowsAsync<KalInputException>(() => connection.Client.SetStatusAsync(RegistrationRef.To("op-1", FileId), "validation_failed", "bad \uDC00", NullKalLog.Instance, CancellationToken.None));

            Assert.Equal("UnsupportedJsonValue", error.ErrorId);
            Assert.Equal("The message is not valid Unicode (it has a lone surrogate character at index 4) and cannot be sent as JSON.", error.Message);
            Assert.Empty(_sandbox.ApiRequests());
        }

        [Fact]
        public async Task Setting_the_status_of_an_unregistered_file_is_a_not_found_error_with_the_server_message()
        {
            using KalConnection connection = await Connected();

            var error = await Assert.ThrowsAsync<KalApiException>(() => connection.Client.SetStatusAsync(RegistrationRef.To("op-1", "nope"), "validated", null, NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalErrorKind.NotFound, error.Kind);
            Assert.Contains("Registration of file 'nope' in operation 'op-1' not found", error.Message);
        }

        [Fact]
        public async Task Setting_a_status_is_retried_after_a_server_error_because_it_is_absolute()
        {
            using KalConnection connection = await Connected();
            await connection.Client.RegisterFileAsync(RegistrationRef.To("op-1", FileId), NullKalLog.Instance, CancellationToken.None);
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/op-1/registration_files/", Status = 502 });

            await connection.Client.SetStatusAsync(RegistrationRef.To("op-1", FileId), "validated", null, NullKalLog.Instance, CancellationToken.None);

            Assert.Equal(new[] { 502, 204 }, _sandbox.ApiRequests().Skip(1).Select(r => r.Status));
        }
    }
}
