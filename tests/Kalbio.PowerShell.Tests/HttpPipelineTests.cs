using System;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Retries, timeouts, errors and token scoping of the shared HTTP pipeline, against the sandbox.</summary>
    public sealed class HttpPipelineTests : IClassFixture<SandboxFixture>
    {
        private readonly SandboxFixture _sandbox;

        public HttpPipelineTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
        }

        private static Task<string> Get(KalConnection connection, string path, IKalLog? log = null) =>
            connection.Client.Http.SendForTextAsync(new KalRequest(HttpMethod.Get, connection.Client.ApiUri(path)), log ?? NullKalLog.Instance, CancellationToken.None);

        private static Task<string> Post(KalConnection connection, string path, string json, IKalLog? log = null) =>
            connection.Client.Http.SendForTextAsync(
                new KalRequest(HttpMethod.Post, connection.Client.ApiUri(path)) { CreateContent = () => new StringContent(json, Encoding.UTF8, "application/json") },
                log ?? NullKalLog.Instance,
                CancellationToken.None);

        private async Task<KalConnection> Connected(Action<KalConnectionOptions>? configure = null)
        {
            KalConnection connection = TestConnections.To(_sandbox, configure);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            return connection;
        }

        [Theory]
        [InlineData("1")]
        [InlineData("date")]
        public async Task A_GET_answered_503_with_Retry_After_waits_and_retries(string retryAfter)
        {
            using KalConnection connection = await Connected();
            string header = retryAfter == "date" ? DateTimeOffset.UtcNow.AddSeconds(1).ToString("r") : retryAfter;
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", Status = 503, RetryAfter = header });
            var log = new RecordingLog();

            string body = await Get(connection, "operations/op/registrations", log);

            Assert.Equal("[]", body.Trim());
            Assert.Equal(new[] { 503, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
            Assert.Contains("retry 1 of 3", log.All);
            Assert.Contains("Retry-After", log.All);
        }

        [Fact]
        public async Task Retries_run_out_into_a_rate_limit_error_that_says_how_many_attempts_were_made()
        {
            using KalConnection connection = await Connected(o => o.MaximumRetryCount = 2);
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", Status = 429, RetryAfter = "0", Times = 10, Body = "{\"code\":\"rate_limited\",\"message\":\"slow down\"}", ContentType = "application/json" });

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Get(connection, "operations/op/registrations"));

            Assert.Equal(KalErrorKind.RateLimited, failure.Kind);
            Assert.Equal(3, failure.Attempts);
            Assert.Equal(3, _sandbox.ApiRequests().Count);
            Assert.Contains("slow down", failure.Message);
            Assert.Contains("GET /operations/op/registrations", failure.Message);
        }

        [Fact]
        public async Task A_POST_answered_500_is_not_sent_again()
        {
            using KalConnection connection = await Connected();
            _sandbox.State.AddFault(new FaultSpec { Method = "POST", PathPrefix = "/operations/", Status = 500, Times = 5 });

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Post(connection, "operations/op/register/f/results", "{\"status\":\"success\"}"));

            Assert.Equal(KalErrorKind.ServerError, failure.Kind);
            Assert.Single(_sandbox.ApiRequests());
        }

        [Fact]
        public async Task A_POST_answered_503_is_sent_again_because_the_server_did_not_process_it()
        {
            using KalConnection connection = await Connected();
            _sandbox.State.AddFault(new FaultSpec { Method = "POST", PathPrefix = "/operations/", Status = 503, RetryAfter = "0" });

            // Unknown registration: the retry reaches the real endpoint, which answers 404.
            var failure = await Assert.ThrowsAsync<KalApiException>(() => Post(connection, "operations/op/register/f/results", "{\"status\":\"success\"}"));

            Assert.Equal(KalErrorKind.NotFound, failure.Kind);
            Assert.Equal(new[] { 503, 404 }, _sandbox.ApiRequests().Select(r => r.Status));
        }

        [Fact]
        public async Task A_server_slower_than_the_timeout_gives_a_timeout_error_naming_the_request()
        {
            using KalConnection connection = await Connected(o => o.MaximumRetryCount = 0);
            // Shortened only once connected: a first token request on a cold, busy machine may take a second itself.
            connection.Client.Options.Timeout = TimeSpan.FromSeconds(1);
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", DelayMs = 5000 });

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Get(connection, "operations/op/registrations"));

            Assert.Equal(KalErrorKind.Timeout, failure.Kind);
            Assert.Contains("GET /operations/op/registrations timed out", failure.Message);
        }

        [Fact]
        public async Task A_token_endpoint_that_answers_non_json_is_a_clear_error_with_the_start_of_the_body()
        {
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/auth/", Status = 200, Body = "<html><body>Welcome to the portal</body></html>", ContentType = "text/html" });
            using KalConnection connection = TestConnections.To(_sandbox);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalErrorKind.InvalidResponse, failure.Kind);
            Assert.Contains("Welcome to the portal", failure.Message);
        }

        [Fact]
        public async Task The_token_goes_only_to_the_api_origin_never_to_another_host()
        {
            await using SandboxServer other = await SandboxServer.StartAsync(new SandboxOptions());
            other.State.SeedFile(new SeedFileRequest { FileId = "f1", Content = "a,b\n1,2\n" });
            using KalConnection connection = await Connected(o => o.AdditionalHeaders.Add(new("Authorization", "Bearer proxy-secret-1")));

            var request = new KalRequest(HttpMethod.Get, new Uri(other.BaseUri, "files/f1"));
            // The other host wants a token, so it answers 401: exactly what a token-less request should get.
            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.Client.Http.SendForTextAsync(request, NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(401, failure.StatusCode);
            var seen = Assert.Single(other.State.GetRequests());
            Assert.False(seen.Headers.ContainsKey("x-kal-authorization"));
            Assert.False(seen.Headers.ContainsKey("authorization"));
            Assert.Equal(0, _sandbox.State.GetGrants().RefreshToken);
        }

        [Fact]
        public async Task Ids_are_escaped_as_one_path_segment()
        {
            Assert.Equal("files/a%20b%25c", KalIds.Path("files", "a b%c"));
            Assert.Equal("operations/op%C3%A9/register/f", KalIds.Path("operations", "opé", "register", "f"));
            await Task.CompletedTask;
        }
    }
}
