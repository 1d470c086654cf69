using System;
using System.Threading.Tasks;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>One real sandbox server on a free loopback port per test class.</summary>
    public sealed class SandboxFixture : IAsyncLifetime
    {
        private SandboxServer? _server;

        public SandboxServer Server => _server ?? throw new InvalidOperationException("The sandbox has not started.");

        public SandboxState State => Server.State;

        public Uri BaseUri => Server.BaseUri;

        public async Task InitializeAsync() => _server = await SandboxServer.StartAsync(new SandboxOptions());

        public async Task DisposeAsync()
        {
            if (_server != null)
            {
                await _server.DisposeAsync();
            }
        }
    }
}
