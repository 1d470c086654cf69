using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// Faults of docs/reliability.md that the pipeline and token tests do not already prove: Retry-After waits and
    /// their cap, tokens revoked before their time, a token family revoked by refresh-token reuse, and token
    /// answers that are not what they claim.
    /// </summary>
    public sealed class ReliabilityTests : IClassFixture<SandboxFixture>
    {
        private readonly SandboxFixture _sandbox;

        public ReliabilityTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
        }

        private async Task<KalConnection> Connected(Action<KalConnectionOptions>? configure = null)
        {
            KalConnection connection = TestConnections.To(_sandbox, configure);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            return connection;
        }

        private static Task<string> ListRegistrations(KalConnection connection, IKalLog? log = null) =>
            connection.Client.Http.SendForTextAsync(
                new KalRequest(HttpMethod.Get, connection.Client.ApiUri("operations/op-1/registrations")),
                log ?? NullKalLog.Instance,
                CancellationToken.None);

        [Theory]
        [InlineData(429, "seconds")]
        [InlineData(429, "date")]
        public async Task A_GET_answered_429_with_Retry_After_waits_at_least_as_told_then_succeeds(int status, string form)
        {
            using KalConnection connection = await Connected();
            // The HTTP-date form has whole seconds: two seconds ahead is at least one second of waiting.
            string header = form == "date" ? DateTimeOffset.UtcNow.AddSeconds(2).ToString("r") : "1";
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", Status = status, RetryAfter = header });
            var log = new RecordingLog();

            Assert.Equal("[]", (await ListRegistrations(connection, log)).Trim());

            IReadOnlyList<RequestLogEntry> requests = _sandbox.ApiRequests();
            Assert.Equal(new[] { status, 200 }, requests.Select(r => r.Status));
            Assert.Contains("(as the server's Retry-After asks)", log.All);
            // A lower bound only: a busy machine can make the wait longer, never shorter.
            Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromMilliseconds(900), $"The retry came {(requests[1].At - requests[0].At).TotalMilliseconds} ms after the 429.");
        }

        [Theory]
        [InlineData("3600")]
        [InlineData("date")]
        public async Task A_Retry_After_beyond_the_cap_is_waited_for_only_up_to_the_cap(string retryAfter)
        {
            using KalConnection connection = await Connected(o => o.MaximumRetryDelay = TimeSpan.FromSeconds(1));
            string header = retryAfter == "date" ? DateTimeOffset.UtcNow.AddHours(1).ToString("r") : retryAfter;
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", Status = 503, RetryAfter = header });
            var log = new RecordingLog();

            await ListRegistrations(connection, log);

            Assert.Equal(new[] { 503, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
            Assert.Contains("503 Service Unavailable; retry 1 of 3 in 1 s (as the server's Retry-After asks)", log.All);
        }

        [Fact]
        public async Task An_access_token_revoked_before_its_time_is_renewed_once_and_the_call_retried_once()
        {
            using KalConnection connection = await Connected();
            _sandbox.State.RevokeTokens(TokenRevocation.Access);
            var log = new RecordingLog();

            Assert.Equal("[]", (await ListRegistrations(connection, log)).Trim());

            Assert.Equal(new[] { 401, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
            GrantStats grants = _sandbox.State.GetGrants();
            Assert.Equal(1, grants.ClientCredentials);
            Assert.Equal(1, grants.RefreshToken);
            Assert.Equal(0, grants.Failed);
            Assert.Contains("the access token was refused; renewing it and trying once more", log.All);
        }

        [Fact]
        public async Task A_token_family_revoked_by_refresh_token_reuse_falls_back_to_client_credentials()
        {
            using KalConnection connection = await Connected();
            // The sandbox lists access tokens first, then refresh tokens: one of each so far.
            IReadOnlyList<string> issued = _sandbox.State.GetIssuedTokens();
            Assert.Equal(2, issued.Count);
            string refreshToken = issued[1];
            // Someone else spends the connection's refresh token first; the connection's own refresh is then a reuse,
            // which makes the server revoke the whole family.
            using (var thief = new HttpClient())
            {
                HttpResponseMessage stolen = await thief.PostAsync(
                    new Uri(_sandbox.BaseUri, "auth/oauth/token"),
                    new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken }));
                Assert.Equal(200, (int)stolen.StatusCode);
            }

            _sandbox.State.ExpireAccessTokens();
            var log = new RecordingLog();

            Assert.Equal("[]", (await ListRegistrations(connection, log)).Trim());

            GrantStats grants = _sandbox.State.GetGrants();
            Assert.Equal(1, grants.FamiliesRevoked);
            Assert.Equal(2, grants.ClientCredentials);
            Assert.Equal(new[] { 401, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
            Assert.Contains("The refresh token was refused (400); requesting a new token with the client credentials.", log.All);
        }

        [Fact]
        public async Task Access_and_refresh_tokens_both_revoked_fall_back_to_client_credentials()
        {
            using KalConnection connection = await Connected();
            _sandbox.State.RevokeTokens(TokenRevocation.All);

            Assert.Equal("[]", (await ListRegistrations(connection)).Trim());

            GrantStats grants = _sandbox.State.GetGrants();
            Assert.Equal(2, grants.ClientCredentials);
            Assert.Equal(0, grants.RefreshToken);
            Assert.Equal(1, grants.Failed);
            Assert.Equal(new[] { 401, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
        }

        [Fact]
        public async Task A_server_that_echoes_the_proxy_token_without_its_scheme_has_it_redacted_everywhere()
        {
            using KalConnection connection = await Connected(o => o.AdditionalHeaders.Add(new("Authorization", "Bearer proxy-token-echoed-123")));
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", Status = 403, Body = "{\"code\":\"forbidden\",\"message\":\"proxy-token-echoed-123 may not list this\"}", ContentType = "application/json" });
            var log = new RecordingLog();

            var failure = await Assert.ThrowsAsync<KalApiException>(() => ListRegistrations(connection, log));

            Assert.Contains("403 Forbidden: *** may not list this", failure.Message);
            Assert.DoesNotContain("proxy-token-echoed-123", failure.ToString() + failure.ServerMessage + failure.ResponseBody + log.All);
        }

        [Theory]
        [InlineData("{\"token\":\"abc123\",\"note\":\"not OAuth\"}", "application/json", "{\"token\":\"abc123\"")]
        [InlineData("[]", "application/json", "[]")]
        [InlineData("{\"access_token\": 42}", "application/json", "{\"access_token\": 42}")]
        [InlineData("", "application/json", "(empty)")]
        [InlineData("OK", "text/plain", "'OK'")]
        public async Task A_2xx_token_answer_that_is_not_a_token_response_is_a_clear_error_with_its_start(string body, string contentType, string shown)
        {
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/auth/", Status = 200, Body = body, ContentType = contentType });
            using KalConnection connection = TestConnections.To(_sandbox);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalErrorKind.InvalidResponse, failure.Kind);
            Assert.Contains("is not a token response", failure.Message);
            Assert.Contains(shown, failure.Message);
            Assert.Equal(1, failure.Attempts);
        }
    }
}
