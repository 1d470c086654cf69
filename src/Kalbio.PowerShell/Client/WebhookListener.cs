using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.PowerShell.Json;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Client
{
    /// <summary>How a <see cref="WebhookListener"/> listens and what it accepts.</summary>
    public sealed class WebhookListenerOptions
    {
        public const int DefaultMaximumBodySize = 1024 * 1024;

        public IPAddress Address { get; set; } = IPAddress.Loopback;

        public int Port { get; set; }

        /// <summary>The only path accepted (others get 404); null accepts any path.</summary>
        public string? Path { get; set; }

        /// <summary>Headers every delivery must carry with exactly these values (others get 401).</summary>
        public IList<KeyValuePair<string, string>> RequiredHeaders { get; } = new List<KeyValuePair<string, string>>();

        public int MaximumBodySize { get; set; } = DefaultMaximumBodySize;

        /// <summary>How many events to accept in all; later deliveries get 503 so the sender keeps them. Null: no limit.</summary>
        public int? MaximumEvents { get; set; }

        /// <summary>How long one request may take to arrive in full.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

        public int MaximumConnections { get; set; } = 64;
    }

    /// <summary>
    /// A minimal HTTP/1.1 server for webhook deliveries: each POST body is parsed as registration events, answered
    /// 202 at once, and handed to <c>onEvent</c> (on a thread-pool thread). Refusals get the proper status: 404 for
    /// another path, 405 for another method, 401 when a required header is missing or wrong, 413 for a body over the
    /// limit, 400 for a body that is not an event, 503 once the event limit is reached.
    /// </summary>
    public sealed class WebhookListener : IDisposable
    {
        private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);
        private const int LingerBytes = 1024 * 1024;

        private readonly WebhookListenerOptions _options;
        private readonly IKalLog _log;
        private Action<RegistrationEvent> _onEvent = _ => { };
        private Action<KalInputException> _onInvalidEvent = _ => { };
        private readonly string? _path;
        private readonly HashSet<Task> _connections = new HashSet<Task>();
        private readonly object _gate = new object();
        private TcpListener? _listener;
        private int _remainingEvents;
        private int _accepted;
        private CancellationTokenSource? _stopping;

        public WebhookListener(WebhookListenerOptions options, IKalLog log)
        {
            _options = options;
            _log = log;
            _path = options.Path is null ? null : NormalizePath(options.Path);
            _remainingEvents = options.MaximumEvents ?? int.MaxValue;
        }

        /// <summary>The address actually listened on, once started.</summary>
        public IPEndPoint? LocalEndpoint => (IPEndPoint?)_listener?.LocalEndpoint;

        /// <summary>How many events were accepted (answered 202).</summary>
        public int AcceptedCount => Volatile.Read(ref _accepted);

        /// <summary>Binds the port now, so a port in use fails here (as a <see cref="SocketException"/>) and not later.</summary>
        public void Start()
        {
            var listener = new TcpListener(_options.Address, _options.Port);
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                // Lets the port be bound again at once after a stop, while closed connections linger in TIME_WAIT;
                // on Linux and macOS it never lets two listeners share a port (on Windows it would, so it is not set there).
                listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            }

            if (_options.Address.AddressFamily == AddressFamily.InterNetworkV6 && _options.Address.Equals(IPAddress.IPv6Any))
            {
                listener.Server.DualMode = true;
            }

            listener.Start();
            _listener = listener;
        }

        /// <summary>
        /// Accepts deliveries until cancelled or, with an event limit, until the last event was answered. Each accepted
        /// event goes to <paramref name="onEvent"/> before its 202 is sent; each body that is not an event goes to
        /// <paramref name="onInvalidEvent"/>. Both are called on thread-pool threads.
        /// </summary>
        public async Task RunAsync(Action<RegistrationEvent> onEvent, Action<KalInputException> onInvalidEvent, CancellationToken cancellation)
        {
            TcpListener listener = _listener ?? throw new InvalidOperationException("Start the listener first.");
            _onEvent = onEvent;
            _onInvalidEvent = onInvalidEvent;
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            _stopping = stopping;
            using (stopping.Token.Register(() => listener.Stop()))
            {
                try
                {
                    while (!stopping.IsCancellationRequested)
                    {
                        TcpClient client;
                        try
                        {
                            client = await listener.AcceptTcpClientAsync().ConfigureAwait(false);
                        }
                        catch (Exception ex) when (stopping.IsCancellationRequested && (ex is ObjectDisposedException || ex is SocketException || ex is InvalidOperationException))
                        {
                            break;
                        }
                        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset || ex.SocketErrorCode == SocketError.ConnectionAborted)
                        {
                            continue;
                        }

                        Track(Task.Run(() => HandleConnectionAsync(client, stopping.Token)));
                    }
                }
                finally
                {
                    Task[] pending;
                    lock (_gate)
                    {
                        pending = _connections.ToArray();
                    }

                    await Task.WhenAll(pending).ConfigureAwait(false);
                }
            }

            cancellation.ThrowIfCancellationRequested();
        }

        public void Dispose()
        {
            _listener?.Stop();
            _listener = null;
        }

        private void Track(Task task)
        {
            lock (_gate)
            {
                _connections.Add(task);
            }

            task.ContinueWith(
                t =>
                {
                    lock (_gate)
                    {
                        _connections.Remove(t);
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        private async Task HandleConnectionAsync(TcpClient client, CancellationToken stopping)
        {
            using (client)
            {
                string remote = client.Client.RemoteEndPoint?.ToString() ?? "an unknown address";
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                timeout.CancelAfter(_options.RequestTimeout);
                using (timeout.Token.Register(() => client.Close()))
                {
                    try
                    {
                        int open;
                        lock (_gate)
                        {
                            open = _connections.Count;
                        }

                        client.NoDelay = true;
                        NetworkStream stream = client.GetStream();
                        if (open > _options.MaximumConnections)
                        {
                            await RespondAsync(stream, 503, "Service Unavailable", "Too many connections.", retryAfter: true).ConfigureAwait(false);
                            await LingerAsync(client, stream).ConfigureAwait(false);
                            return;
                        }

                        await HandleRequestAsync(client, stream, remote, timeout.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException || ex is SocketException || ex is ObjectDisposedException || ex is OperationCanceledException)
                    {
                        if (!stopping.IsCancellationRequested && timeout.IsCancellationRequested)
                        {
                            _log.Verbose($"A webhook delivery from {remote} did not arrive in full within {_options.RequestTimeout.TotalSeconds:0} s; the connection was closed.");
                        }
                    }
                }
            }
        }

        private async Task HandleRequestAsync(TcpClient client, NetworkStream stream, string remote, CancellationToken cancellation)
        {
            var reader = new HttpRequestReader(stream);
            HttpRequestHead? head = null;
            try
            {
                head = await reader.ReadHeadAsync(cancellation).ConfigureAwait(false);
                if (head is null)
                {
                    return;
                }

                if (_path != null && !string.Equals(NormalizePath(head.Path), _path, StringComparison.Ordinal))
                {
                    throw new HttpRefusal(404, "Not Found", $"Nothing is listening at this path; webhook events go to {_path}.");
                }

                if (!string.Equals(head.Method, "POST", StringComparison.Ordinal))
                {
                    throw new HttpRefusal(405, "Method Not Allowed", "Webhook events are delivered with POST.");
                }

                string? failedHeader = FailedRequiredHeader(head);
                if (failedHeader != null)
                {
                    _log.Warning($"Refused a webhook delivery from {remote} (401): the header '{failedHeader}' is missing or has the wrong value.");
                    throw new HttpRefusal(401, "Unauthorized", "A required header is missing or has the wrong value.");
                }

                long? length = HttpRequestReader.BodyLength(head, _options.MaximumBodySize);
                foreach (string expectation in head.Values("Expect"))
                {
                    if (!string.Equals(expectation, "100-continue", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new HttpRefusal(417, "Expectation Failed", "Only 'Expect: 100-continue' is understood.");
                    }

                    if (head.Version == "HTTP/1.1")
                    {
                        byte[] interim = Encoding.ASCII.GetBytes("HTTP/1.1 100 Continue\r\n\r\n");
                        await stream.WriteAsync(interim, 0, interim.Length, cancellation).ConfigureAwait(false);
                    }
                }

                byte[] body = await reader.ReadBodyAsync(length, _options.MaximumBodySize, cancellation).ConfigureAwait(false);
                List<RegistrationEvent> events;
                try
                {
                    events = RegistrationEventReader.Parse(body);
                }
                catch (KalInputException ex)
                {
                    _onInvalidEvent(new KalInputException(ex.ErrorId, $"A webhook delivery from {remote} was refused (400). {ex.Message}", null, remote, ex.InnerException));
                    throw new HttpRefusal(400, "Bad Request", ex.Message);
                }

                if (!TryTakeSlots(events.Count))
                {
                    _log.Verbose($"POST {head.Path} from {remote}: 503 (all the events asked for were already received; the sender will deliver this one again).");
                    await RespondAsync(stream, 503, "Service Unavailable", "This listener takes no more events.", retryAfter: true).ConfigureAwait(false);
                    return;
                }

                foreach (RegistrationEvent received in events)
                {
                    _log.Verbose($"POST {head.Path} from {remote}: 202; {received.EventType ?? "event"} for file {received.FileId} in operation {received.OperationId} ({received.RecordIds.Length} record ids).");
                    _onEvent(received);
                }

                Interlocked.Add(ref _accepted, events.Count);
                try
                {
                    await RespondAsync(stream, 202, "Accepted", null, retryAfter: false).ConfigureAwait(false);
                }
                finally
                {
                    if (Volatile.Read(ref _remainingEvents) <= 0)
                    {
                        _stopping?.Cancel();
                    }
                }
            }
            catch (HttpRefusal refusal)
            {
                if (refusal.Status != 401 && refusal.Status != 400)
                {
                    _log.Verbose($"{head?.Method ?? "A request"} {(head is null ? string.Empty : head.Path + " ")}from {remote}: {refusal.Status} {refusal.Reason} ({refusal.Message})");
                }

                await RespondAsync(stream, refusal.Status, refusal.Reason, refusal.Message, retryAfter: false, allow: refusal.Status == 405).ConfigureAwait(false);
                await LingerAsync(client, stream).ConfigureAwait(false);
            }
        }

        private bool TryTakeSlots(int count)
        {
            while (true)
            {
                int remaining = Volatile.Read(ref _remainingEvents);
                if (remaining < count)
                {
                    return false;
                }

                if (Interlocked.CompareExchange(ref _remainingEvents, remaining - count, remaining) == remaining)
                {
                    return true;
                }
            }
        }

        private string? FailedRequiredHeader(HttpRequestHead head)
        {
            foreach (KeyValuePair<string, string> required in _options.RequiredHeaders)
            {
                List<string> values = head.Values(required.Key).ToList();
                if (values.Count != 1 || !FixedTimeEquals(values[0], required.Value))
                {
                    return required.Key;
                }
            }

            return null;
        }

        private static bool FixedTimeEquals(string actual, string expected)
        {
            byte[] a = Encoding.UTF8.GetBytes(actual);
            byte[] b = Encoding.UTF8.GetBytes(expected);
            int difference = a.Length ^ b.Length;
            for (int i = 0; i < b.Length; i++)
            {
                difference |= (i < a.Length ? a[i] : 0) ^ b[i];
            }

            return difference == 0;
        }

        private static async Task RespondAsync(Stream stream, int status, string reason, string? message, bool retryAfter, bool allow = false)
        {
            byte[] body = message is null ? Array.Empty<byte>() : Encoding.UTF8.GetBytes(message + "\n");
            var head = new StringBuilder();
            head.Append("HTTP/1.1 ").Append(status).Append(' ').Append(reason).Append("\r\n");
            if (body.Length > 0)
            {
                head.Append("Content-Type: text/plain; charset=utf-8\r\n");
            }

            if (allow)
            {
                head.Append("Allow: POST\r\n");
            }

            if (retryAfter)
            {
                head.Append("Retry-After: 5\r\n");
            }

            head.Append("Content-Length: ").Append(body.Length).Append("\r\nConnection: close\r\n\r\n");
            byte[] headBytes = Encoding.ASCII.GetBytes(head.ToString());
            byte[] response = new byte[headBytes.Length + body.Length];
            Buffer.BlockCopy(headBytes, 0, response, 0, headBytes.Length);
            Buffer.BlockCopy(body, 0, response, headBytes.Length, body.Length);
            await stream.WriteAsync(response, 0, response.Length).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
        }

        /// <summary>
        /// After refusing a request whose body was not read, reads and drops what the client still sends for a moment,
        /// so closing does not reset the connection before the client has read the answer.
        /// </summary>
        private static async Task LingerAsync(TcpClient client, NetworkStream stream)
        {
            try
            {
                client.Client.Shutdown(SocketShutdown.Send);
                using var linger = new CancellationTokenSource(LingerTime);
                using (linger.Token.Register(() => client.Close()))
                {
                    byte[] sink = new byte[16 * 1024];
                    int total = 0;
                    int read;
                    while (total < LingerBytes && (read = await stream.ReadAsync(sink, 0, sink.Length, linger.Token).ConfigureAwait(false)) > 0)
                    {
                        total += read;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException || ex is SocketException || ex is ObjectDisposedException || ex is OperationCanceledException)
            {
            }
        }

        private static string NormalizePath(string path)
        {
            string trimmed = path.Trim();
            if (!trimmed.StartsWith("/", StringComparison.Ordinal))
            {
                trimmed = "/" + trimmed;
            }

            return trimmed.Length > 1 ? trimmed.TrimEnd('/') : trimmed;
        }
    }
}
