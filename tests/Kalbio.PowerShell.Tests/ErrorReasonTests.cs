using System;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Commands;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The core states a failure's fact and carries its reason (an ErrorId and the input it concerns, or a
    /// <see cref="KalApiReason"/>); the cmdlet layer adds the advice that names its parameters.
    /// </summary>
    public sealed class ErrorReasonTests : IClassFixture<SandboxFixture>
    {
        private readonly SandboxFixture _sandbox;

        public ErrorReasonTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
        }

        [Fact]
        public async Task A_server_slower_than_the_timeout_is_NoAnswerInTime_and_the_advice_names_TimeoutSec()
        {
            using KalConnection connection = TestConnections.To(_sandbox, o => o.MaximumRetryCount = 0);
            await connection.Client.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            // Shortened only once connected: a first token request on a cold, busy machine may take a second itself.
            connection.Client.Options.Timeout = TimeSpan.FromSeconds(1);
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", DelayMs = 5000 });

            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.Client.GetRegistrationsAsync(RegistrationRef.ToOperation("op-1"), NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalApiReason.NoAnswerInTime, failure.Reason);
            Assert.Equal("GET /operations/op-1/registrations timed out: the server sent nothing for 1 s.", failure.Message);
            Assert.Equal(failure.Message + " If it is just slow, connect with a larger -TimeoutSec.", KalErrors.Advised(failure).Message);
        }

        [Fact]
        public async Task A_body_that_breaks_off_on_every_attempt_is_BodyBrokenOff_and_gets_no_address_advice()
        {
            using KalConnection connection = TestConnections.To(_sandbox, o => o.MaximumRetryCount = 1);
            _sandbox.State.SeedFile(new SeedFileRequest { FileId = "cut", GeneratedSize = 256 * 1024, Seed = 5 });
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/cut", DropAfterBytes = 1000, Times = 2 });
            ApiCall call = connection.Client.PrepareCall("GET", "files/cut", string.Empty, null, expectJson: false);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.Client.SendAsync(call, ApiResponseMode.Text, NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalApiReason.BodyBrokenOff, failure.Reason);
            Assert.Contains("broke off while reading the response", failure.Message);
            Assert.Equal(string.Empty, KalErrors.ToErrorRecord(failure, null).ErrorDetails.RecommendedAction ?? string.Empty);
        }

        [Fact]
        public async Task A_server_that_cannot_be_reached_is_ServerUnreachable_and_the_advice_names_the_sandbox_address()
        {
            int closedPort = ReceiveWebhookEventTests.FreePort();
            using var connection = new KalConnection(new KalConnectionOptions
            {
                BaseUri = new Uri($"http://127.0.0.1:{closedPort}/"),
                ClientId = "id",
                ClientSecret = "secret",
                MaximumRetryCount = 0,
            });

            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalApiReason.ServerUnreachable, failure.Reason);
            Assert.Contains("-BaseUri http://127.0.0.1:5080", KalErrors.ToErrorRecord(failure, null).ErrorDetails.RecommendedAction);
        }

        [Theory]
        [InlineData("application/json", "{not json", nameof(KalApiReason.BodyNotJson), "Use -Raw to get the text as it is.")]
        [InlineData("application/octet-stream", "\u0001\u0002", nameof(KalApiReason.BodyNeitherJsonNorText), "Save it with -OutFile, or read it with -Raw.")]
        public async Task A_body_that_cannot_be_parsed_carries_its_reason_and_the_advice_names_Raw(string contentType, string body, string reason, string advice)
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/programs", Status = 200, Body = body, ContentType = contentType });
            ApiCall call = connection.Client.PrepareCall("GET", "programs", string.Empty, null, expectJson: true);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.Client.SendAsync(call, ApiResponseMode.Parsed, NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalErrorKind.InvalidResponse, failure.Kind);
            Assert.Equal(reason, failure.Reason.ToString());
            Assert.DoesNotContain("-Raw", failure.Message);
            Assert.EndsWith(advice, KalErrors.Advised(failure).Message);
        }

        [Fact]
        public void Advice_is_added_once_and_keeps_everything_else()
        {
            var failure = new KalApiException(KalErrorKind.Timeout, "GET", "/x", "GET /x timed out.", reason: KalApiReason.NoAnswerInTime) { Attempts = 3 };

            var advised = (KalApiException)KalErrors.Advised(failure);
            var again = (KalApiException)KalErrors.Advised(advised);

            Assert.Same(advised, again);
            Assert.Equal(3, advised.Attempts);
            Assert.Equal(KalApiReason.NoAnswerInTime, advised.Reason);
            Assert.Equal("GET /x timed out. If it is just slow, connect with a larger -TimeoutSec.", advised.Message);
            var notFound = new KalApiException(KalErrorKind.NotFound, "GET", "/x", "GET /x failed with 404.");
            Assert.Same(notFound, KalErrors.Advised(notFound));
        }

        [Fact]
        public void A_missing_client_id_is_stated_by_the_core_and_the_cmdlet_layer_names_its_parameters()
        {
            var failure = Assert.Throws<KalInputException>(() => new KalConnection(new KalConnectionOptions { ClientSecret = "s" }));

            Assert.Equal("MissingClientId", failure.ErrorId);
            Assert.Equal("The client id is empty.", failure.Message);
            Assert.Equal(
                "The client id is empty. Give -ClientId, a -Credential whose user name is the client id, or set KALEIDOSCOPE_API_CLIENT_ID.",
                KalErrors.ToErrorRecord(failure, null).Exception.Message);
        }

        [Fact]
        public void A_body_on_a_GET_is_refused_before_anything_is_sent_and_the_advice_names_Query()
        {
            using KalConnection connection = TestConnections.To(_sandbox);

            var failure = Assert.Throws<KalInputException>(() => connection.Client.PrepareCall("GET", "programs", string.Empty, Encoding.UTF8.GetBytes("{}"), expectJson: true));

            Assert.Equal("BodyNotAllowed", failure.ErrorId);
            Assert.Equal("A GET request has no body.", failure.Message);
            Assert.Equal("A GET request has no body. Give its parameters with -Query instead.", KalErrors.Advised(failure).Message);
            Assert.Empty(_sandbox.State.GetRequests());
        }

        [Theory]
        [InlineData(null, "..", "FileId", "Give -FileName.")]
        [InlineData("two\nlines.csv", "f1", "FileName", "Give another -FileName.")]
        public void A_name_that_cannot_be_a_file_says_where_it_came_from(string? fileName, string fileId, string givenAs, string advice)
        {
            var failure = Assert.Throws<KalInputException>(() => FileNameRules.Current.SaveAsName(fileName, fileId));

            Assert.Equal("InvalidFileName", failure.ErrorId);
            Assert.Equal(givenAs, failure.ParamName);
            Assert.DoesNotContain("-FileName", failure.Message);
            Assert.EndsWith(advice, KalErrors.Advised(failure).Message);
        }

        [Fact]
        public void An_existing_file_is_stated_by_the_core_and_the_advice_names_NoClobber()
        {
            string path = Path.Combine(Path.GetTempPath(), "x.csv");
            var exists = new DestinationExistsException(path);

            Assert.Equal($"The file '{path}' already exists.", exists.Message);
            var record = KalErrors.ToErrorRecord(exists, "x");
            Assert.Equal("FileExists", record.FullyQualifiedErrorId);
            Assert.Equal($"The file '{path}' already exists. Remove it, choose another destination or file name, or leave out -NoClobber to replace it.", record.Exception.Message);
            Assert.Equal(path, ((DestinationExistsException)record.Exception).Path);
        }

        [Fact]
        public void Registration_ids_are_checked_once_when_the_reference_is_made()
        {
            RegistrationRef operation = RegistrationRef.ToOperation("op-1", string.Empty);
            Assert.Null(operation.FileId);
            Assert.Equal("operation 'op-1'", operation.ToString());
            Assert.Equal("file 'f1' in operation 'op-1'", RegistrationRef.To("op-1", "f1").ToString());

            var badFile = Assert.Throws<KalInputException>(() => RegistrationRef.ToOperation("op-1", "a/b"));
            Assert.Equal("InvalidId", badFile.ErrorId);
            Assert.Equal("a/b", badFile.Target);
            Assert.StartsWith("FileId 'a/b' contains '/'", badFile.Message);

            var badOperation = Assert.Throws<KalInputException>(() => RegistrationRef.To(" ", "f1"));
            Assert.StartsWith("OperationId is empty", badOperation.Message);
        }
    }
}
