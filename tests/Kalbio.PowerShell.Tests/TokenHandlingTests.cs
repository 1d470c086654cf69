using System;
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
    /// <summary>The token rules of the contract, against the real sandbox.</summary>
    public sealed class TokenHandlingTests : IClassFixture<SandboxFixture>
    {
        private readonly SandboxFixture _sandbox;

        public TokenHandlingTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
        }

        private static Task<string> ListRegistrations(KalConnection connection, IKalLog? log = null) =>
            connection.Client.Http.SendForTextAsync(
                new KalRequest(HttpMethod.Get, connection.Client.ApiUri("operations/op-1/registrations")),
                log ?? NullKalLog.Instance,
                CancellationToken.None);

        private static Task<string> Token(KalConnection connection, IKalLog? log = null) =>
            connection.Client.Tokens.GetAccessTokenAsync(log ?? NullKalLog.Instance, CancellationToken.None);

        private static Task<string> RenewRejected(KalConnection connection, string rejected) =>
            connection.Client.Tokens.RenewRejectedAsync(rejected, NullKalLog.Instance, CancellationToken.None);

        private void TokenEndpointAnswers(int? status, string? body = null, int delayMs = 0) =>
            _sandbox.State.AddFault(new FaultSpec { Method = "POST", PathPrefix = "/auth/oauth/token", Status = status, Body = body, DelayMs = delayMs });

        /// <summary>The grants the sandbox made: client credentials, refreshes, and refused ones.</summary>
        private void AssertGrants(int clientCredentials, int refreshToken, int failed = 0)
        {
            GrantStats grants = _sandbox.State.GetGrants();
            Assert.Equal((clientCredentials, refreshToken, failed), (grants.ClientCredentials, grants.RefreshToken, grants.Failed));
        }

        /// <summary>Starts <paramref name="start"/> on <paramref name="context"/>, as a caller on a UI or pipeline thread would.</summary>
        [Fact]
        public async Task Connect_obtains_a_token_and_calls_carry_it_in_X_Kal_Authorization()
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            Assert.Equal("[]", (await ListRegistrations(connection)).Trim());

            Assert.Equal(1, _sandbox.State.GetGrants().ClientCredentials);
            var call = Assert.Single(_sandbox.ApiRequests());
            Assert.StartsWith("Bearer ", call.Headers["x-kal-authorization"]);
            Assert.False(call.Headers.ContainsKey("authorization"));
            Assert.InRange(connection.TokenExpiresAt!.Value, DateTimeOffset.Now.AddMinutes(55), DateTimeOffset.Now.AddMinutes(61));
        }

        [Fact]
        public async Task A_token_near_expiry_is_refreshed_ahead_and_the_rotated_refresh_token_is_used_next_time()
        {
            _sandbox.State.SetAccessTokenLifetime(600);
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            await ListRegistrations(connection);
            string first = _sandbox.ApiRequests()[^1].Headers["x-kal-authorization"];

            clock.Advance(TimeSpan.FromSeconds(299)); // a 10-minute token is renewed at half its life, not before
            await ListRegistrations(connection);
            Assert.Equal(first, _sandbox.ApiRequests()[^1].Headers["x-kal-authorization"]);
            clock.Advance(TimeSpan.FromSeconds(2));
            await ListRegistrations(connection);
            string second = _sandbox.ApiRequests()[^1].Headers["x-kal-authorization"];
            clock.Advance(TimeSpan.FromSeconds(301));
            await ListRegistrations(connection);

            GrantStats grants = _sandbox.State.GetGrants();
            Assert.Equal(1, grants.ClientCredentials);
            Assert.Equal(2, grants.RefreshToken);
            Assert.Equal(0, grants.FamiliesRevoked);
            Assert.Equal(0, grants.Failed);
            Assert.NotEqual(first, second);
            Assert.All(_sandbox.ApiRequests(), r => Assert.Equal(200, r.Status));
        }

        [Fact]
        public async Task Eight_threads_sharing_an_expired_token_cause_exactly_one_refresh_grant()
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            clock.Advance(TimeSpan.FromMinutes(51)); // an hour's token is renewed 10 minutes ahead

            using var start = new Barrier(8);
            Task<string>[] calls = Enumerable.Range(0, 8)
                .Select(_ => Task.Run(() =>
                {
                    start.SignalAndWait();
                    return ListRegistrations(connection);
                }))
                .ToArray();
            await Task.WhenAll(calls);

            GrantStats grants = _sandbox.State.GetGrants();
            Assert.Equal(1, grants.ClientCredentials);
            Assert.Equal(1, grants.RefreshToken);
            Assert.Equal(0, grants.FamiliesRevoked);
            Assert.Equal(8, _sandbox.ApiRequests().Count(r => r.Status == 200));
        }

        [Fact]
        public async Task A_refused_refresh_falls_back_to_client_credentials()
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            _sandbox.State.RevokeTokens(TokenRevocation.Refresh);
            clock.Advance(TimeSpan.FromMinutes(51));

            var log = new RecordingLog();
            await ListRegistrations(connection, log);

            GrantStats grants = _sandbox.State.GetGrants();
            Assert.Equal(2, grants.ClientCredentials);
            Assert.Equal(0, grants.RefreshToken);
            Assert.Equal(1, grants.Failed);
            Assert.Contains("refresh token was refused", log.All);
            Assert.Equal(200, _sandbox.ApiRequests()[^1].Status);
        }

        [Fact]
        public async Task A_401_on_an_api_call_triggers_one_refresh_and_one_retry()
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            _sandbox.State.ExpireAccessTokens();

            await ListRegistrations(connection);

            Assert.Equal(new[] { 401, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
            Assert.Equal(1, _sandbox.State.GetGrants().RefreshToken);
        }

        [Fact]
        public async Task A_second_401_after_the_refresh_is_reported_not_retried_forever()
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", Status = 401, Times = 5, Body = "{\"code\":\"unauthorized\",\"message\":\"token revoked\"}", ContentType = "application/json" });

            var failure = await Assert.ThrowsAsync<KalApiException>(() => ListRegistrations(connection));

            Assert.Equal(KalErrorKind.Authentication, failure.Kind);
            Assert.Equal(2, _sandbox.ApiRequests().Count);
            Assert.Contains("token revoked", failure.Message);
        }

        [Fact]
        public async Task Wrong_credentials_fail_with_an_authentication_error_that_never_contains_the_secret()
        {
            using KalConnection connection = TestConnections.To(_sandbox, o => o.ClientSecret = "not-the-right-secret");
            var log = new RecordingLog();

            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.ConnectAsync(log, CancellationToken.None));

            Assert.Equal(KalErrorKind.Authentication, failure.Kind);
            Assert.Equal(401, failure.StatusCode);
            Assert.Contains("sandbox-client", failure.Message);
            Assert.DoesNotContain("not-the-right-secret", failure.ToString());
            Assert.DoesNotContain("not-the-right-secret", log.All);
            Assert.Contains("client_secret=***", log.All);
        }

        [Fact]
        public async Task Debug_output_shows_requests_with_every_secret_redacted()
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            var log = new RecordingLog();
            await ListRegistrations(connection, log);
            _sandbox.State.ExpireAccessTokens();
            await ListRegistrations(connection, log);

            string tokenResponses = string.Join("\n", _sandbox.State.GetRequests().Select(r => r.Headers.TryGetValue("x-kal-authorization", out string? v) ? v : string.Empty));
            Assert.Contains("X-Kal-Authorization: ***", log.All);
            Assert.DoesNotContain(SandboxOptions.DefaultClientSecret, log.All);
            foreach (string header in tokenResponses.Split('\n').Where(h => h.Length > 0))
            {
                Assert.DoesNotContain(header.Substring("Bearer ".Length), log.All);
            }

            Assert.Contains("\"access_token\":\"***\"", log.All.Replace(" ", string.Empty));
        }

        [Fact]
        public async Task A_caller_refused_with_a_token_another_caller_already_renewed_gets_the_new_one_without_another_grant()
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            string refused = await Token(connection);

            string renewed = await RenewRejected(connection, refused);
            string second = await RenewRejected(connection, refused);

            Assert.NotEqual(refused, renewed);
            Assert.Equal(renewed, second);
            AssertGrants(clientCredentials: 1, refreshToken: 1);
        }

        [Fact]
        public async Task A_refused_token_is_renewed_again_when_the_one_another_caller_obtained_is_itself_due()
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            string refused = await Token(connection);
            string renewed = await RenewRejected(connection, refused);
            clock.Advance(TimeSpan.FromMinutes(51));

            string again = await RenewRejected(connection, refused);

            Assert.NotEqual(renewed, again);
            AssertGrants(clientCredentials: 1, refreshToken: 2);
        }

        [Fact]
        public async Task A_valid_token_is_handed_out_at_once_even_while_another_caller_renews_a_refused_one()
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            string current = await Token(connection);
            TokenEndpointAnswers(status: null, delayMs: 500); // the renewal below holds the lock for at least this long

            Task<string> renewal = RenewRejected(connection, current);
            Task<string> meanwhile = Token(connection);

            Assert.True(meanwhile.IsCompleted, "a caller with a valid token waited for another caller's renewal");
            Assert.Equal(current, await meanwhile);
            Assert.NotEqual(current, await renewal);
        }

        [Fact]
        public async Task Token_renewals_and_waits_for_another_caller_s_renewal_never_resume_on_the_caller_s_synchronization_context()
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            var context = new CountingContext();

            string first = await context.Start(() => Token(connection)); // client credentials
            clock.Advance(TimeSpan.FromMinutes(51));
            string refreshed = await context.Start(() => Token(connection)); // refresh grant
            string renewed = await context.Start(() => RenewRejected(connection, refreshed));

            // Two callers queue behind a renewal in progress.
            clock.Advance(TimeSpan.FromMinutes(51));
            TokenEndpointAnswers(status: null, delayMs: 300);
            Task<string> renewal = RenewRejected(connection, renewed);
            Task<string> waitingForToken = context.Start(() => Token(connection));
            Task<string> waitingToRenew = context.Start(() => RenewRejected(connection, renewed));
            string[] afterWait = await Task.WhenAll(renewal, waitingForToken, waitingToRenew);

            Assert.Equal(0, context.Posts);
            Assert.Equal(4, new[] { first, refreshed, renewed, afterWait[0] }.Distinct().Count());
            Assert.All(afterWait, token => Assert.Equal(afterWait[0], token));
            AssertGrants(clientCredentials: 1, refreshToken: 3);
        }

        [Fact]
        public async Task A_server_error_on_refresh_is_reported_and_the_refresh_token_kept_for_the_next_try()
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            await Token(connection);
            clock.Advance(TimeSpan.FromMinutes(51));
            TokenEndpointAnswers(500);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Token(connection));
            await Token(connection);

            Assert.Equal(500, failure.StatusCode);
            Assert.Equal(KalErrorKind.ServerError, failure.Kind);
            AssertGrants(clientCredentials: 1, refreshToken: 1); // no fallback grant: a 5xx does not say the refresh token is dead
        }

        [Fact]
        public async Task Client_credentials_refused_with_a_server_message_are_reported_with_that_message()
        {
            using KalConnection connection = TestConnections.To(_sandbox, o => o.ClientSecret = "not-the-right-secret");

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Token(connection));

            Assert.Equal(KalErrorKind.Authentication, failure.Kind);
            Assert.Contains("for client id 'sandbox-client' (401: Client authentication failed: unknown client id or wrong secret).", failure.Message);
        }

        [Fact]
        public async Task Client_credentials_refused_with_400_and_no_body_are_an_authentication_error_naming_only_the_status()
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            TokenEndpointAnswers(400, body: string.Empty);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Token(connection));

            Assert.Equal(KalErrorKind.Authentication, failure.Kind);
            Assert.Equal(400, failure.StatusCode);
            Assert.Contains("refused the client credentials for client id 'sandbox-client' (400).", failure.Message);
        }

        [Fact]
        public async Task A_server_error_on_the_client_credentials_grant_is_not_called_a_refusal_of_the_credentials()
        {
            using KalConnection connection = TestConnections.To(_sandbox, o => o.MaximumRetryCount = 0);
            TokenEndpointAnswers(500);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Token(connection));

            Assert.Equal(KalErrorKind.ServerError, failure.Kind);
            Assert.Equal(500, failure.StatusCode);
            Assert.DoesNotContain("refused the client credentials", failure.Message);
        }

        [Theory]
        [InlineData("", "(empty)")]
        [InlineData("<html><body>Sign in to the proxy</body></html>", "<html><body>Sign in to the proxy</body></html>")]
        [InlineData("{\"token_type\":\"bearer\"}", "{\"token_type\":\"bearer\"}")]
        [InlineData("{\"access_token\":\"\"}", "{\"access_token\":\"***\"}")]
        [InlineData("[]", "[]")]
        public async Task A_token_response_without_an_access_token_is_reported_with_the_start_of_what_came_back(string body, string shown)
        {
            using KalConnection connection = TestConnections.To(_sandbox);
            TokenEndpointAnswers(200, body);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Token(connection));

            Assert.Equal(KalErrorKind.InvalidResponse, failure.Kind);
            Assert.Contains($"answered with something that is not a token response: '{shown}'.", failure.Message);
        }

        [Theory]
        [InlineData("\"expires_in\":90,", 90)]
        [InlineData("\"expires_in\":7200.5,", 7200.5)]
        [InlineData("", 300)]
        [InlineData("\"expires_in\":0,", 300)]
        [InlineData("\"expires_in\":-60,", 300)]
        [InlineData("\"expires_in\":\"3600\",", 300)]
        [InlineData("\"expires_in\":null,", 300)]
        public async Task A_token_lives_as_long_as_expires_in_says_or_five_minutes_when_it_says_nothing_usable(string expiresIn, double seconds)
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            TokenEndpointAnswers(200, "{" + expiresIn + "\"access_token\":\"access-from-the-server\",\"refresh_token\":\"refresh-from-the-server\"}");

            Assert.Equal("access-from-the-server", await Token(connection));

            Assert.Equal(clock.Now.AddSeconds(seconds), connection.Client.Tokens.ExpiresAt);
        }

        [Theory]
        [InlineData("")]
        [InlineData(",\"refresh_token\":\"\"")]
        [InlineData(",\"refresh_token\":12345678")]
        [InlineData(",\"refresh_token\":null")]
        public async Task A_token_response_without_a_usable_refresh_token_is_renewed_with_the_client_credentials(string refreshToken)
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            TokenEndpointAnswers(200, "{\"access_token\":\"access-from-the-server\",\"expires_in\":3600" + refreshToken + "}");
            await Token(connection);
            clock.Advance(TimeSpan.FromMinutes(51));
            var log = new RecordingLog();

            string renewed = await Token(connection, log);

            Assert.NotEqual("access-from-the-server", renewed);
            AssertGrants(clientCredentials: 1, refreshToken: 0, failed: 0); // no refresh was even tried
            Assert.DoesNotContain("Refreshing", log.All);
        }

        [Fact]
        public async Task Both_tokens_of_every_grant_are_redacted_wherever_they_turn_up()
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            await Token(connection);
            clock.Advance(TimeSpan.FromMinutes(51));
            await Token(connection);

            var issued = _sandbox.State.GetIssuedTokens();
            string echoed = connection.Client.Redactor.Redact("the server said: " + string.Join(" and ", issued));

            Assert.Equal(4, issued.Count);
            Assert.Equal("the server said: *** and *** and *** and ***", echoed);
        }

        [Fact]
        public async Task Verbose_output_says_which_grant_is_made_and_when_the_token_expires()
        {
            var clock = new TestClock();
            using KalConnection connection = TestConnections.To(_sandbox, o => o.UtcNow = () => clock.Now);
            var log = new RecordingLog();

            await Token(connection, log);
            clock.Advance(TimeSpan.FromMinutes(51));
            await Token(connection, log);

            // The token manager's own lines; the pipeline's "POST /auth/oauth/token -> 200 OK" lines are its own business.
            string[] verbose = log.Messages.Where(m => m.StartsWith("VERBOSE: ", StringComparison.Ordinal) && !m.StartsWith("VERBOSE: POST ", StringComparison.Ordinal)).ToArray();
            Assert.Equal(
                new[]
                {
                    "VERBOSE: Requesting an access token for client 'sandbox-client'.",
                    "VERBOSE: Obtained an access token (client_credentials); it expires at ",
                    "VERBOSE: Refreshing the access token.",
                    "VERBOSE: Obtained an access token (refresh_token); it expires at ",
                },
                verbose.Select(m => m.Contains(" it expires at ", StringComparison.Ordinal) ? m.Substring(0, m.IndexOf(" it expires at ", StringComparison.Ordinal) + 15) : m));
        }
    }
}
