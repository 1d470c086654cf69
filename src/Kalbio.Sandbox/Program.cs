using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

/// <summary>
/// <c>dotnet Kalbio.Sandbox.dll [--port N | --urls http://127.0.0.1:N] [--https] [--files-dir DIR]
/// [--client id:secret]... [--webhook-url URL] [--token-lifetime SECONDS] [--seed-demo]
/// [--exit-on-stdin-close] [--guide] [--send-demo-event]</c>. Prints <c>KALBIO_SANDBOX_URL=...</c> once listening;
/// <c>--guide</c> then prints what a newcomer needs (build.ps1 -Task Sandbox), and <c>--send-demo-event</c> offers the
/// demo file's registration_submitted to the webhook URL until a listener takes it.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: Kalbio.Sandbox [--port N | --urls http://127.0.0.1:N] [--https] [--files-dir DIR] " +
        "[--client id:secret]... [--webhook-url URL] [--token-lifetime SECONDS] [--seed-demo] [--exit-on-stdin-close] " +
        "[--guide] [--send-demo-event]";

    public static async Task<int> Main(string[] args)
    {
        SandboxOptions options;
        bool exitOnStdinClose;
        bool guide;
        bool sendDemoEvent;
        try
        {
            (options, exitOnStdinClose, guide, sendDemoEvent) = Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"Kalbio.Sandbox: {ex.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        void RequestStop(PosixSignalContext signal)
        {
            signal.Cancel = true;
            stop.Cancel();
        }

        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop);
        using PosixSignalRegistration sigquit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, RequestStop);

        SandboxServer server;
        try
        {
            server = await SandboxServer.StartAsync(options, stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            Console.Error.WriteLine($"Kalbio.Sandbox: could not start: {ex.Message}");
            return 1;
        }

        await using (server.ConfigureAwait(false))
        {
            Console.Out.WriteLine($"KALBIO_SANDBOX_URL={server.BaseUri.ToString().TrimEnd('/')}");
            Console.Out.Flush();
            if (guide)
            {
                SandboxGuide.Write(Console.Out, server, options, sendDemoEvent);
            }

            Task offer = sendDemoEvent
                ? SandboxGuide.OfferDemoEventAsync(Console.Out, server, options.WebhookUrl!, stop.Token)
                : Task.CompletedTask;

            if (exitOnStdinClose)
            {
                var watcher = new Thread(() => WaitForStdinEof(stop)) { IsBackground = true, Name = "stdin-watch" };
                watcher.Start();
            }

            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            try
            {
                await offer.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        return 0;
    }

    private static void WaitForStdinEof(CancellationTokenSource stop)
    {
        try
        {
            using Stream stdin = Console.OpenStandardInput();
            byte[] buffer = new byte[4096];
            while (stdin.Read(buffer, 0, buffer.Length) > 0)
            {
            }
        }
        catch (IOException)
        {
        }

        try
        {
            stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static (SandboxOptions Options, bool ExitOnStdinClose, bool Guide, bool SendDemoEvent) Parse(string[] args)
    {
        var options = new SandboxOptions { LogToConsole = true };
        bool exitOnStdinClose = false;
        bool guide = false;
        bool sendDemoEvent = false;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string? inline = null;
            int equals = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                inline = arg[(equals + 1)..];
                arg = arg[..equals];
            }

            string Value()
            {
                if (inline is not null)
                {
                    return inline;
                }

                if (i + 1 >= args.Length)
                {
                    throw new ArgumentException($"{arg} needs a value");
                }

                return args[++i];
            }

            switch (arg)
            {
                case "--port":
                    options.Port = ParsePort(Value());
                    break;
                case "--urls":
                    // Only the port and scheme are taken: the sandbox binds 127.0.0.1 whatever host is named.
                    string urls = Value().Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
                    string normalized = urls.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal);
                    if (!Uri.TryCreate(normalized, UriKind.Absolute, out Uri? url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                    {
                        throw new ArgumentException($"--urls: not an http(s) URL: {urls}");
                    }

                    options.Port = url.Port;
                    options.UseHttps |= url.Scheme == Uri.UriSchemeHttps;
                    break;
                case "--https":
                    options.UseHttps = true;
                    break;
                case "--files-dir":
                    options.FilesDirectory = Value();
                    break;
                case "--client":
                    string pair = Value();
                    int colon = pair.IndexOf(':');
                    if (colon <= 0)
                    {
                        throw new ArgumentException("--client takes id:secret");
                    }

                    options.Clients.Add(new SandboxClient(pair[..colon], pair[(colon + 1)..]));
                    break;
                case "--webhook-url":
                    options.WebhookUrl = Value();
                    break;
                case "--token-lifetime":
                    if (!int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int lifetime))
                    {
                        throw new ArgumentException("--token-lifetime takes a whole number of seconds");
                    }

                    options.AccessTokenLifetimeSeconds = lifetime;
                    break;
                case "--seed-demo":
                    options.SeedDemo = true;
                    break;
                case "--exit-on-stdin-close":
                    exitOnStdinClose = true;
                    break;
                case "--guide":
                    guide = true;
                    break;
                case "--send-demo-event":
                    sendDemoEvent = true;
                    break;
                case "--help":
                case "-h":
                    throw new ArgumentException("help");
                default:
                    throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        if (sendDemoEvent && (options.WebhookUrl is null || !options.SeedDemo))
        {
            throw new ArgumentException("--send-demo-event needs --seed-demo and --webhook-url");
        }

        return (options, exitOnStdinClose, guide, sendDemoEvent);
    }

    private static int ParsePort(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port <= 65535
            ? port
            : throw new ArgumentException($"not a port: {text}");
}
