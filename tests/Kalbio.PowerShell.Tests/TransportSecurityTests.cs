using System;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Commands;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>TLS checking on by default, and the token kept on the API host across redirects.</summary>
    public sealed class TransportSecurityTests : IClassFixture<SandboxFixture>
    {
        private readonly SandboxFixture _sandbox;

        public TransportSecurityTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
        }

        private static KalConnection ConnectionTo(Uri baseUri, bool skipCertificateCheck) =>
            new KalConnection(new KalConnectionOptions
            {
                BaseUri = KalConnectionOptions.ParseBaseUri(baseUri.ToString()),
                ClientId = SandboxOptions.DefaultClientId,
                ClientSecret = SandboxOptions.DefaultClientSecret,
                SkipCertificateCheck = skipCertificateCheck,
                RetryInterval = TimeSpan.Zero,
            });

        [Fact]
        public async Task A_self_signed_certificate_is_refused_by_default_with_advice_and_without_retries()
        {
            await using SandboxServer https = await SandboxServer.StartAsync(new SandboxOptions { UseHttps = true });
            Assert.Equal("https", https.BaseUri.Scheme);
            using KalConnection connection = ConnectionTo(https.BaseUri, skipCertificateCheck: false);

            var failure = await Assert.ThrowsAsync<KalApiException>(() => connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalErrorKind.Network, failure.Kind);
            Assert.Contains("certificate", failure.Message);
            Assert.Equal(KalApiReason.CertificateRejected, failure.Reason);
            Assert.DoesNotContain("-SkipCertificateCheck", failure.Message);
            Assert.EndsWith("or connect with -SkipCertificateCheck.", KalErrors.Advised(failure).Message);
            Assert.Equal(1, failure.Attempts);
            Assert.Equal(0, https.State.GetGrants().ClientCredentials);
        }

        [Fact]
        public async Task SkipCertificateCheck_accepts_the_self_signed_certificate()
        {
            await using SandboxServer https = await SandboxServer.StartAsync(new SandboxOptions { UseHttps = true });
            using KalConnection connection = ConnectionTo(https.BaseUri, skipCertificateCheck: true);

            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);

            Assert.Equal(1, https.State.GetGrants().ClientCredentials);
        }

        [Fact]
        public async Task A_redirect_on_the_api_host_keeps_the_token()
        {
            _sandbox.State.SeedFile(new SeedFileRequest { FileId = "moved", Content = "x,y\n" });
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/old", Status = 302, Location = "/files/moved" });
            using KalConnection connection = TestConnections.To(_sandbox);

            string body = await connection.Client.Http.SendForTextAsync(new KalRequest(HttpMethod.Get, connection.Client.ApiUri("files/old")), NullKalLog.Instance, CancellationToken.None);

            Assert.Equal("x,y\n", body);
            Assert.Equal(new[] { 302, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
            Assert.All(_sandbox.ApiRequests(), r => Assert.StartsWith("Bearer ", r.Headers["x-kal-authorization"]));
        }

        [Fact]
        public async Task A_redirect_to_another_host_drops_the_token_and_the_additional_headers()
        {
            await using SandboxServer other = await SandboxServer.StartAsync(new SandboxOptions());
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/elsewhere", Status = 307, Location = new Uri(other.BaseUri, "files/stolen").ToString() });
            using KalConnection connection = TestConnections.To(_sandbox, o => o.AdditionalHeaders.Add(new("Authorization", "Bearer proxy-secret-2")));
            var log = new RecordingLog();

            // The other host insists on a token it never receives: a 401, and no renewal is attempted for it.
            var failure = await Assert.ThrowsAsync<KalApiException>(() =>
                connection.Client.Http.SendForTextAsync(new KalRequest(HttpMethod.Get, connection.Client.ApiUri("files/elsewhere")), log, CancellationToken.None));

            Assert.Equal(401, failure.StatusCode);
            var seen = Assert.Single(other.State.GetRequests());
            Assert.Equal("/files/stolen", seen.Path);
            Assert.False(seen.Headers.ContainsKey("x-kal-authorization"));
            Assert.False(seen.Headers.ContainsKey("authorization"));
            Assert.Contains("another host, so no token is sent", log.All);
            Assert.Equal(0, _sandbox.State.GetGrants().RefreshToken);
        }

        [Fact]
        public async Task A_redirect_from_https_to_http_is_not_followed()
        {
            await using SandboxServer https = await SandboxServer.StartAsync(new SandboxOptions { UseHttps = true });
            https.State.AddFault(new FaultSpec { PathPrefix = "/files/", Status = 302, Location = new Uri(_sandbox.BaseUri, "files/x").ToString() });
            using KalConnection connection = ConnectionTo(https.BaseUri, skipCertificateCheck: true);

            var failure = await Assert.ThrowsAsync<KalApiException>(() =>
                connection.Client.Http.SendForTextAsync(new KalRequest(HttpMethod.Get, connection.Client.ApiUri("files/x")), NullKalLog.Instance, CancellationToken.None));

            Assert.Equal(KalErrorKind.InvalidResponse, failure.Kind);
            Assert.Contains("insecure", failure.Message);
            Assert.Empty(_sandbox.State.GetRequests());
        }
    }
}
