using System;
using System.Collections;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using Kalbio.Core.Webhooks;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Listens for webhook deliveries over HTTP or HTTPS and writes each registration event to the pipeline as it
    /// arrives, so <c>Receive-KalWebhookEvent -Port 8080 | ForEach-Object { ... }</c> is a complete processor. A
    /// delivery is answered 202 only once its event is safe: processed by the pipeline, or written to -SpoolPath.
    /// </summary>
    [Cmdlet(VerbsCommunications.Receive, "KalWebhookEvent")]
    [OutputType(typeof(RegistrationEvent))]
    public sealed class ReceiveKalWebhookEventCommand : KalCmdlet
    {
        private static readonly string[] ListeningTags = { "PSHOST", "KalWebhookListening" };

        [Parameter(Mandatory = true, Position = 0)]
        [ValidateRange(1, 65535)]
        public int Port { get; set; }

        /// <summary>The only path that takes events (e.g. /kaleidoscope/events); others get 404. Any path when omitted.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        /// <summary>Stop after this many events; deliveries beyond them get 503 so the sender keeps them.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int Count { get; set; }

        /// <summary>Stop listening after this many seconds; with -Count, receiving fewer events is an error.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int TimeoutSec { get; set; }

        /// <summary>Headers each delivery must carry with exactly these values (a shared secret); others get 401. Values may be SecureStrings.</summary>
        [Parameter]
        [ValidateNotNull]
        public IDictionary? RequiredHeader { get; set; }

        /// <summary>The local address to listen on; 127.0.0.1 by default. 0.0.0.0 or :: listen on every interface.</summary>
        [Parameter]
        [ValidateNotNull]
        public IPAddress ListenAddress { get; set; } = IPAddress.Loopback;

        /// <summary>Larger bodies get 413.</summary>
        [Parameter]
        [ValidateRange(1, 256 * 1024 * 1024)]
        public int MaximumBodySize { get; set; } = WebhookListenerOptions.DefaultMaximumBodySize;

        /// <summary>Clients from one address may hold this many connections at once; more get 503 (raise it behind a reverse proxy).</summary>
        [Parameter]
        [ValidateRange(1, 1024)]
        public int MaximumConnectionsPerAddress { get; set; } = WebhookListenerOptions.DefaultMaximumConnectionsPerAddress;

        /// <summary>Serve HTTPS with this certificate (it must include its private key).</summary>
        [Parameter]
        [ValidateNotNull]
        public X509Certificate2? Certificate { get; set; }

        /// <summary>A folder where each accepted event is written durably before its 202 and kept until processed.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SpoolPath { get; set; }

        protected override void EndProcessing()
        {
            WebhookListenerOptions options = BuildOptions();
            using WebhookSpool? spool = OpenSpool();
            options.Spool = spool;
            bool countGiven = MyInvocation.BoundParameters.ContainsKey(nameof(Count));
            bool timeoutGiven = MyInvocation.BoundParameters.ContainsKey(nameof(TimeoutSec));
            if (countGiven)
            {
                options.MaximumEvents = Count;
            }

            using var listener = new WebhookListener(options, Log);
            string address = Start(listener);
            if (!IPAddress.IsLoopback(ListenAddress) && options.RequiredHeaders.Count == 0)
            {
                WriteWarning($"Listening on {ListenAddress}, beyond this computer, without -RequiredHeader: anyone who can reach port {Port} can post events. Configure a secret header on the webhook and give it with -RequiredHeader.");
            }

            if (options.TravelsInClear)
            {
                WriteWarning($"Listening on {ListenAddress}, beyond this computer, without -Certificate: deliveries (and any secret header) travel in clear. Give -Certificate to serve HTTPS, or put a reverse proxy that terminates TLS in front.");
            }

            string limits = (countGiven ? $" until {Count} {(Count == 1 ? "event arrives" : "events arrive")}" : string.Empty)
                + (timeoutGiven ? $"{(countGiven ? " or" : string.Empty)} for at most {TimeoutSec} s" : string.Empty);
            string spooling = spool is null ? string.Empty : $", spooling to {spool.Folder}";

            // Once, as a host line (shown in a console, kept in the information stream): where to point the webhook.
            WriteInformation(
                new HostInformationMessage { Message = $"Listening for webhook events at {address} ({(Certificate is null ? "plain HTTP" : "HTTPS")}{spooling}){limits}; Ctrl+C stops." },
                ListeningTags);

            bool timedOut = RunEmitting<object, bool>(
                async (cancellation, post) =>
                {
                    using var timeout = timeoutGiven ? new CancellationTokenSource(TimeSpan.FromSeconds(TimeoutSec)) : new CancellationTokenSource();
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, timeout.Token);
                    try
                    {
                        // The post's task is not awaited: each delivery awaits its handoff, which the pump fails if
                        // the event never reaches the queue, so the listener gets its backpressure there.
                        await listener.RunAsync(e => _ = post(e), ex => _ = post(ex), linked.Token).ConfigureAwait(false);
                        return false;
                    }
                    catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellation.IsCancellationRequested)
                    {
                        return true;
                    }
                },
                item =>
                {
                    if (item is KalInputException invalid)
                    {
                        WriteError(new ErrorRecord(invalid, invalid.ErrorId, ErrorCategory.InvalidData, invalid.Target));
                    }
                    else
                    {
                        // The pump marks the handoff written when this returns; only then is its delivery answered.
                        WriteObject(((PipelineHandoff<RegistrationEvent>)item).Item);
                    }
                });

            int received = listener.AcceptedCount;
            WriteVerbose($"Stopped listening at {address} after {received} {(received == 1 ? "event" : "events")}{(timedOut ? $" ({TimeoutSec} s passed)" : string.Empty)}.");
            if (timedOut && countGiven && received < Count)
            {
                WriteError(KalErrors.Create(
                    "WebhookEventTimeout",
                    ErrorCategory.OperationTimeout,
                    $"Received {received} of {Count} webhook {(Count == 1 ? "event" : "events")} at {address} within {TimeoutSec} s. Check that the webhook URL configured in Kaleidoscope points here and that this port is reachable.",
                    address));
            }
        }

        private string Start(WebhookListener listener)
        {
            try
            {
                listener.Start();
            }
            catch (SocketException ex)
            {
                bool inUse = ex.SocketErrorCode == SocketError.AddressAlreadyInUse;
                string message = inUse
                    ? $"Port {Port} on {ListenAddress} is already in use. Stop the program that uses it, or choose another -Port."
                    : $"Cannot listen on {ListenAddress} port {Port}: {ex.Message}.{(ex.SocketErrorCode == SocketError.AddressNotAvailable ? " -ListenAddress must be an address of this computer." : string.Empty)}";
                ThrowTerminatingError(KalErrors.Create(inUse ? "WebhookListenerPortInUse" : "WebhookListenerStartFailed", ErrorCategory.ResourceUnavailable, message, Port, ex));
            }

            IPEndPoint endpoint = listener.LocalEndpoint!;
            string host = endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
            string path = Path is null ? "/ (any path)" : (Path.StartsWith("/", StringComparison.Ordinal) ? Path : "/" + Path);
            return $"{(Certificate is null ? "http" : "https")}://{host}:{endpoint.Port}{path}";
        }

        private WebhookSpool? OpenSpool()
        {
            if (SpoolPath is null)
            {
                return null;
            }

            string folder = ResolveFileSystemPath(SpoolPath, nameof(SpoolPath));
            try
            {
                return WebhookSpool.Open(folder);
            }
            catch (WebhookSpoolInUseException ex)
            {
                ThrowTerminatingError(KalErrors.Create("WebhookSpoolInUse", ErrorCategory.ResourceBusy, ex.Message + " Stop that one, or give this one its own -SpoolPath.", folder, ex));
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ThrowTerminatingError(KalErrors.Create("WebhookSpoolUnavailable", ErrorCategory.WriteError, $"Cannot use the spool folder '{folder}': {ex.Message}", folder, ex));
            }

            return null;
        }

        private WebhookListenerOptions BuildOptions()
        {
            var options = new WebhookListenerOptions
            {
                Address = ListenAddress,
                Port = Port,
                Path = Path,
                MaximumBodySize = MaximumBodySize,
                MaximumConnectionsPerAddress = MaximumConnectionsPerAddress,
                Certificate = Certificate,
            };

            if (Certificate != null && !Certificate.HasPrivateKey)
            {
                ThrowTerminatingError(KalErrors.Create("WebhookCertificateWithoutPrivateKey", ErrorCategory.InvalidArgument, $"The certificate '{Certificate.Subject}' ({Certificate.Thumbprint}) has no private key, so it cannot serve HTTPS. Load it from a .pfx file with its password, or from a certificate store entry that has its key.", Certificate));
            }

            if (RequiredHeader != null)
            {
                foreach (DictionaryEntry entry in RequiredHeader)
                {
                    string name = System.Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty;
                    object? value = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
                    string text = value is SecureString secure ? new NetworkCredential(string.Empty, secure).Password : System.Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
                    if (name.Length == 0 || name.Any(c => c <= ' ' || c >= 127 || c == ':'))
                    {
                        ThrowTerminatingError(KalErrors.Create("InvalidRequiredHeader", ErrorCategory.InvalidArgument, $"'{name}' is not a valid HTTP header name. Use a name such as 'X-Webhook-Secret'.", name));
                    }

                    if (text.Length == 0 || text.Any(c => c == '\r' || c == '\n' || c == '\0'))
                    {
                        ThrowTerminatingError(KalErrors.Create("InvalidRequiredHeader", ErrorCategory.InvalidArgument, $"The required value of header '{name}' is empty or contains a line break or NUL.", name));
                    }

                    options.RequiredHeaders.Add(new System.Collections.Generic.KeyValuePair<string, string>(name, text));
                }
            }

            return options;
        }
    }
}
