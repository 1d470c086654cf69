using System;
using System.Linq;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kalbio.Sandbox;

/// <summary>A running sandbox on 127.0.0.1. Start it with <see cref="StartAsync"/>; dispose it to stop.</summary>
public sealed class SandboxServer : IAsyncDisposable
{
    private const long MaxRequestBodyBytes = 4L * 1024 * 1024 * 1024;

    private readonly WebApplication _app;
    private int _disposed;

    private SandboxServer(WebApplication app, SandboxState state, Uri baseUri, X509Certificate2? certificate)
    {
        _app = app;
        State = state;
        BaseUri = baseUri;
        Certificate = certificate;
    }

    /// <summary>The bound address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUri { get; }

    /// <summary>What the server holds and saw; the same data as the /_sandbox/ control plane.</summary>
    public SandboxState State { get; }

    /// <summary>The self-signed certificate when HTTPS is on, else null (for tests that want to trust it).</summary>
    public X509Certificate2? Certificate { get; }

    public static async Task<SandboxServer> StartAsync(SandboxOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Port must be 0-65535.");
        }

        var state = new SandboxState(options);
        X509Certificate2? certificate = options.UseHttps ? SelfSignedCertificate.Create() : null;
        try
        {
            // The empty builder reads no appsettings or ASPNETCORE_* variables: nothing can move the binding.
            WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
            {
                ApplicationName = typeof(SandboxServer).Assembly.GetName().Name,
            });
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            if (options.LogToConsole)
            {
                builder.Logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
            }

            builder.Services.AddSingleton<IHostLifetime, QuietHostLifetime>();
            builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
            builder.WebHost.UseKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
                kestrel.Listen(IPAddress.Loopback, options.Port, listen =>
                {
                    // HTTP/1.1 only, so a dropped connection looks the same to every client.
                    listen.Protocols = HttpProtocols.Http1;
                    if (certificate is not null)
                    {
                        listen.UseHttps(certificate);
                    }
                });
            });

            WebApplication app = builder.Build();
            ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Kalbio.Sandbox");
            var pipeline = new RequestPipeline(state, logger, app.Lifetime.ApplicationStopping);
            app.Run(pipeline.InvokeAsync);
            await app.StartAsync(ct).ConfigureAwait(false);

            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            int port = new Uri(address).Port;
            var baseUri = new Uri($"{(certificate is null ? "http" : "https")}://127.0.0.1:{port}/");
            state.BaseUri = baseUri;
            return new SandboxServer(app, state, baseUri, certificate);
        }
        catch
        {
            state.Dispose();
            certificate?.Dispose();
            throw;
        }
    }

    public async Task StopAsync(CancellationToken ct = default)
    {
        await _app.StopAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            State.Dispose();
            Certificate?.Dispose();
        }
    }

    /// <summary>No Ctrl+C or SIGTERM handling: the host process (tests, or Program) decides when to stop.</summary>
    private sealed class QuietHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
