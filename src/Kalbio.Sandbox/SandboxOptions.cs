using System.Collections.Generic;

namespace Kalbio.Sandbox;

/// <summary>A client id and secret the sandbox accepts for the client-credentials grant.</summary>
public sealed record SandboxClient(string ClientId, string ClientSecret);

/// <summary>How a <see cref="SandboxServer"/> is started. The server always binds 127.0.0.1 only.</summary>
public sealed class SandboxOptions
{
    public const string DefaultClientId = "sandbox-client";
    public const string DefaultClientSecret = "sandbox-secret";

    /// <summary>Port on 127.0.0.1; 0 picks a free port (read <see cref="SandboxServer.BaseUri"/> after start).</summary>
    public int Port { get; set; }

    /// <summary>Serve HTTPS with a self-signed certificate (CN=localhost, SAN localhost and 127.0.0.1) made at start.</summary>
    public bool UseHttps { get; set; }

    /// <summary>Folder whose files are served by file id (file name = file id). Optional.</summary>
    public string? FilesDirectory { get; set; }

    /// <summary>Accepted credentials; when empty, <c>sandbox-client</c> / <c>sandbox-secret</c>.</summary>
    public IList<SandboxClient> Clients { get; } = new List<SandboxClient>();

    /// <summary>Where <c>registration_submitted</c> events are POSTed after a registration. Optional.</summary>
    public string? WebhookUrl { get; set; }

    /// <summary>Extra headers sent with every webhook delivery.</summary>
    public IDictionary<string, string> WebhookHeaders { get; } = new Dictionary<string, string>();

    /// <summary>The <c>expires_in</c> of issued access tokens.</summary>
    public int AccessTokenLifetimeSeconds { get; set; } = 3600;

    /// <summary>Seed the demo file <c>compounds-2026-11.csv</c> (see <see cref="DemoData"/>), also after each reset.</summary>
    public bool SeedDemo { get; set; }

    /// <summary>Write ASP.NET Core warnings and errors to standard error. Off by default for in-process use.</summary>
    public bool LogToConsole { get; set; }

    internal IReadOnlyList<SandboxClient> EffectiveClients() =>
        Clients.Count > 0
            ? new List<SandboxClient>(Clients)
            : new List<SandboxClient> { new(DefaultClientId, DefaultClientSecret) };
}
