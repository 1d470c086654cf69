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
    }
}
