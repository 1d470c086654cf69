using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Kalbio.PowerShell.Client;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The connection cmdlets in hosted runspaces against real sandboxes.</summary>
    public sealed class ConnectionCmdletTests : IClassFixture<SandboxFixture>
    {
        private const string ConnectScript =
            "Connect-KalApi -ClientId $id -ClientSecret (ConvertTo-SecureString $secret -AsPlainText -Force) -BaseUri $uri -ErrorAction Stop";

        private readonly SandboxFixture _sandbox;

        public ConnectionCmdletTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
        }

        private static Dictionary<string, object?> Credentials(Uri uri, string id = SandboxOptions.DefaultClientId, string secret = SandboxOptions.DefaultClientSecret) =>
            new Dictionary<string, object?> { ["id"] = id, ["secret"] = secret, ["uri"] = uri.ToString() };

        [Fact]
        public async Task Two_runspaces_in_one_process_keep_their_own_current_connection()
        {
            await using SandboxServer tenantB = await SandboxServer.StartAsync(new SandboxOptions { Clients = { new SandboxClient("tenant-b", "secret-b") } });
            using var first = new HostedPowerShell();
            using var second = new HostedPowerShell();

            Assert.Empty(first.Invoke(ConnectScript, Credentials(_sandbox.BaseUri)).Errors);
            Assert.Empty(second.Invoke(ConnectScript, Credentials(tenantB.BaseUri, "tenant-b", "secret-b")).Errors);

            var seenByFirst = (KalConnection)first.Invoke("Get-KalConnection").Output.Single().BaseObject;
            var seenBySecond = (KalConnection)second.Invoke("Get-KalConnection").Output.Single().BaseObject;
            Assert.Equal(SandboxOptions.DefaultClientId, seenByFirst.ClientId);
            Assert.Equal("tenant-b", seenBySecond.ClientId);

            second.Invoke("Disconnect-KalApi");
            Assert.Empty(second.Invoke("Get-KalConnection").Output);
            Assert.Single(first.Invoke("Get-KalConnection").Output);
        }

        [Fact]
        public void A_connection_can_be_passed_to_another_runspace_and_shares_its_token()
        {
            using var first = new HostedPowerShell();
            using var second = new HostedPowerShell();
            var connection = (KalConnection)first.Invoke(ConnectScript + " -PassThru", Credentials(_sandbox.BaseUri)).Output.Single().BaseObject;

            Assert.Empty(second.Invoke("Get-KalConnection").Output);
            var (output, errors) = second.Invoke("$c.TokenExpiresAt", new Dictionary<string, object?> { ["c"] = connection });

            Assert.Empty(errors);
            Assert.Equal(connection.TokenExpiresAt, (DateTimeOffset)output.Single().BaseObject);
            Assert.Equal(1, _sandbox.State.GetGrants().ClientCredentials);
        }

        [Fact]
        public void Verbose_output_names_each_request_and_never_the_secret()
        {
            using var shell = new HostedPowerShell();
            var (_, errors) = shell.Invoke(ConnectScript + " -Verbose -Debug 4>&1 5>&1 | Out-String | Set-Variable -Name captured -Scope Global; $DebugPreference = 'SilentlyContinue'", Credentials(_sandbox.BaseUri));
            Assert.Empty(errors);
            string captured = (string)shell.Invoke("$captured").Output.Single().BaseObject;

            Assert.Contains("POST /auth/oauth/token -> 200", captured);
            Assert.DoesNotContain(SandboxOptions.DefaultClientSecret, captured);
            Assert.Contains("client_secret=***", captured);
        }
    }
}
