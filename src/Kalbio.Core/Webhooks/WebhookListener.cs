using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.Core.Webhooks
{
    /// <summary>How a <see cref="WebhookListener"/> listens and what it accepts.</summary>
    internal sealed class WebhookListenerOptions
    {
        public const int DefaultMaximumBodySize = 1024 * 1024;
        public const int DefaultMaximumConnectionsPerAddress = 16;

        public IPAddress Address { get; set; } = IPAddress.Loopback;

        public int Port { get; set; }

        /// <summary>The only path accepted (others get 404); null accepts any path.</summary>
        public string? Path { get; set; }

        /// <summary>Headers every delivery must carry with exactly these values (others get 401).</summary>
        public IList<KeyValuePair<string, string>> RequiredHeaders { get; } = new List<KeyValuePair<string, string>>();

        public int MaximumBodySize { get; set; } = DefaultMaximumBodySize;

        /// <summary>How many events to accept in all; later deliveries get 503 so the sender keeps them. Null: no limit.</summary>
        public int? MaximumEvents { get; set; }

        /// <summary>How long the request head (and the TLS handshake) may take to arrive, from the connection on.</summary>
        public TimeSpan HeadTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>How long one request may take to arrive in full, from the connection on.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

        public int MaximumConnections { get; set; } = 64;

        public int MaximumConnectionsPerAddress { get; set; } = DefaultMaximumConnectionsPerAddress;

        /// <summary>Serve HTTPS (TLS 1.2 or later) with this certificate, which must have its private key. Null: plain HTTP.</summary>
        public X509Certificate2? Certificate { get; set; }

        /// <summary>Write each accepted event here before answering 202; null: answer only once the pipeline returned from it.</summary>
        public WebhookSpool? Spool { get; set; }

        /// <summary>True when deliveries may come from other computers over plain HTTP, readable on the way.</summary>
        public bool TravelsInClear => !IPAddress.IsLoopback(Address) && Certificate is null;
    }

    /// <summary>
    /// A minimal HTTP/1.1 server (HTTPS with a certificate) for webhook deliveries. A delivery's 2xx means its events
    /// are safe: without a spool, each event is handed to the pipeline and the 202 sent only once the pipeline returned
    /// from it (503 with Retry-After if it stopped or failed first); with a spool, each event is written durably first,
    /// answered 202, and removed from the spool once the pipeline returned from it. Refusals get the proper status: 404
    /// for another path, 405 for another method, 401 when a required header is missing or wrong, 413 for a body over
    /// the limit, 400 for a malformed request or a body that is not an event, 503 once the event limit is reached or
    /// too many connections are open.
    /// </summary>
    internal sealed class WebhookListener : IDisposable
    {
        private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);
        private const int LingerBytes = 1024 * 1024;
        private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

        // TLS 1.3 has no name in netstandard2.0; the value is the runtime's.
        private const SslProtocols Tls12OrLater = SslProtocols.Tls12 | (SslProtocols)12288;

        private readonly WebhookListenerOptions _options;
        private readonly IKalLog _log;
        private Action<PipelineHandoff<RegistrationEvent>> _onEvent = _ => { };
        private Action<KalInputException> _onInvalidEvent = _ => { };
        private readonly string? _path;
        private readonly HashSet<Task> _connections = new HashSet<Task>();
        private readonly HashSet<Task> _followUps = new HashSet<Task>();
        private readonly Dictionary<IPAddress, int> _perAddress = new Dictionary<IPAddress, int>();
        private readonly object _gate = new object();
        private TcpListener? _listener;
        private int _remainingEvents;
        private int _accepted;
        private CancellationTokenSource? _accepting;

        public WebhookListener(WebhookListenerOptions options, IKalLog log)
        {
            _options = options;
            _log = log;
            _path = options.Path is null ? null : NormalizePath(options.Path);
            _remainingEvents = options.MaximumEvents ?? int.MaxValue;
        }

        /// <summary>The address actually listened on, once started.</summary>
        public IPEndPoint? LocalEndpoint => (IPEndPoint?)_listener?.LocalEndpoint;

        /// <summary>Takes the next connection; a seam so tests can make an accept fail as the OS may (EMFILE).</summary>
        internal Func<TcpListener, Task<TcpClient>> Accept { get; set; } = listener => listener.AcceptTcpClientAsync();

        /// <summary>How many events were accepted (answered 2xx).</summary>
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
        /// Emits the events left in the spool (oldest first), then accepts deliveries until cancelled or, with an event
        /// limit, until the last event was processed. Each event goes to <paramref name="onEvent"/> as a handoff the
        /// pipeline completes; each body that is not an event goes to <paramref name="onInvalidEvent"/>. Both are called
        /// on thread-pool threads.
        /// </summary>
        public async Task RunAsync(Action<PipelineHandoff<RegistrationEvent>> onEvent, Action<KalInputException> onInvalidEvent, CancellationToken cancellation)
        {
            TcpListener listener = _listener ?? throw new InvalidOperationException("Start the listener first.");
            _onEvent = onEvent;
            _onInvalidEvent = onInvalidEvent;
            using var accepting = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            _accepting = accepting;
            using (accepting.Token.Register(() => listener.Stop()))
            {
                try
                {
                    ReplaySpool(cancellation);
                    while (!accepting.IsCancellationRequested)
                    {
                        TcpClient client;
                        try
                        {
                            client = await Accept(listener).ConfigureAwait(false);
                        }
                        catch (Exception ex) when (accepting.IsCancellationRequested && (ex is ObjectDisposedException || ex is SocketException || ex is InvalidOperationException))
                        {
                            break;
                        }
                        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset || ex.SocketErrorCode == SocketError.ConnectionAborted)
                        {
                            continue;
                        }
                        catch (Exception ex) when (ex is SocketException || ex is IOException)
                        {
                            // Such as too many open files: the connection waits in the backlog; try again shortly.
                            _log.Verbose($"Could not accept a connection ({ex.Message}); trying again in {AcceptRetryDelay.TotalMilliseconds:0} ms.");
                            try
                            {
                                await Task.Delay(AcceptRetryDelay, accepting.Token).ConfigureAwait(false);
                            }
                            catch (OperationCanceledException)
                            {
                                break;
                            }

                            continue;
                        }

                        // Not cancellable before it starts: the connection must always be handled, if only to close it.
                        Track(_connections, Task.Run(() => HandleConnectionAsync(client, cancellation), CancellationToken.None));
                    }
                }
                finally
                {
                    await Task.WhenAll(Snapshot(_connections)).ConfigureAwait(false);
                    await Task.WhenAll(Snapshot(_followUps)).ConfigureAwait(false);
                }
            }

            cancellation.ThrowIfCancellationRequested();
        }

        /// <summary>How many connections from this address are open now.</summary>
        internal int OpenConnectionsFrom(IPAddress address)
        {
            lock (_gate)
            {
                return _perAddress.TryGetValue(address, out int count) ? count : 0;
            }
        }

        public void Dispose()
        {
            _listener?.Stop();
            _listener = null;
        }

        private Task[] Snapshot(HashSet<Task> tasks)
        {
            lock (_gate)
            {
                return tasks.ToArray();
            }
        }

        private void Track(HashSet<Task> tasks, Task task)
        {
            lock (_gate)
            {
                tasks.Add(task);
            }

            task.ContinueWith(
                t =>
                {
                    lock (_gate)
                    {
                        tasks.Remove(t);
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        private void ReplaySpool(CancellationToken cancellation)
        {
            WebhookSpool? spool = _options.Spool;
            if (spool is null)
            {
                return;
            }

            foreach (SpooledEvent spooled in spool.Pending((file, why) => _log.Warning($"The spool file '{file}' is not an event ({why}); it was set aside.")))
            {
                if (!TryTakeSlots(1))
                {
                    break;
                }

                _log.Verbose($"From the spool: {Describe(spooled.Event)}.");
                Interlocked.Increment(ref _accepted);
                HandOffSpooled(spooled, cancellation);
            }

            StopAcceptingIfDone();
        }

        /// <summary>Hands a spooled event to the pipeline; once the pipeline returned from it, it leaves the spool.</summary>
        private void HandOffSpooled(SpooledEvent spooled, CancellationToken cancellation)
        {
            var handoff = new PipelineHandoff<RegistrationEvent>(spooled.Event);
            CancellationTokenRegistration withdraw = cancellation.Register(() => handoff.TryWithdraw());
            _onEvent(handoff);
            Track(_followUps, Task.Run(async () =>
            {
                using (withdraw)
                {
                    if (!await handoff.Delivered.ConfigureAwait(false))
                    {
                        return;
                    }
                }

                try
                {
                    _options.Spool!.Finish(spooled);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    _log.Warning($"Processed {Describe(spooled.Event)}, but could not remove it from the spool ({ex.Message}); it will be written to the pipeline again on the next start.");
                }
            }, CancellationToken.None));
        }

        /// <summary>True when the pipeline returned from every event; on cancellation, events not yet taken are withdrawn.</summary>
        private static async Task<bool> AllDeliveredAsync(List<PipelineHandoff<RegistrationEvent>> handoffs, CancellationToken cancellation)
        {
            using (cancellation.Register(() => handoffs.ForEach(h => h.TryWithdraw())))
            {
                bool all = true;
                foreach (PipelineHandoff<RegistrationEvent> handoff in handoffs)
                {
                    all &= await handoff.Delivered.ConfigureAwait(false);
                }

                return all;
            }
        }

        private async Task HandleConnectionAsync(TcpClient client, CancellationToken stopping)
        {
            IPAddress? address = (client.Client.RemoteEndPoint as IPEndPoint)?.Address;
            string remote = client.Client.RemoteEndPoint?.ToString() ?? "an unknown address";
            int fromAddress = CountIn(address, +1);
            var arrival = new ArrivalDeadline(client, _options, stopping);
            try
            {
                using (client)
                using (arrival)
                {
                    try
                    {
                        client.NoDelay = true;
                        Stream stream = client.GetStream();
                        int open;
                        lock (_gate)
                        {
                            open = _connections.Count;
                        }

                        if (open > _options.MaximumConnections || fromAddress > _options.MaximumConnectionsPerAddress)
                        {
                            string why = open > _options.MaximumConnections ? "Too many connections." : "Too many connections from your address.";
                            _log.Verbose($"A connection from {remote}: 503 ({why})");
                            if (_options.Certificate is null)
                            {
                                await RespondAsync(stream, 503, "Service Unavailable", why, retryAfter: true).ConfigureAwait(false);
                                await LingerAsync(client, stream).ConfigureAwait(false);
                            }

                            return;
                        }

                        if (_options.Certificate != null)
                        {
                            var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                            stream = tls;
                            await tls.AuthenticateAsServerAsync(_options.Certificate, clientCertificateRequired: false, Tls12OrLater, checkCertificateRevocation: false).ConfigureAwait(false);
                        }

                        await HandleRequestAsync(client, stream, remote, arrival, stopping).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException || ex is SocketException || ex is ObjectDisposedException || ex is OperationCanceledException || ex is AuthenticationException)
                    {
                        if (!stopping.IsCancellationRequested && arrival.Expired)
                        {
                            _log.Verbose($"A webhook delivery from {remote} did not arrive in full ({arrival.Describe()}); the connection was closed.");
                        }
                        else if (ex is AuthenticationException)
                        {
                            _log.Verbose($"The TLS handshake with {remote} failed: {ex.Message}");
                        }
                    }
                }
            }
            finally
            {
                CountIn(address, -1);
            }
        }

        private int CountIn(IPAddress? address, int change)
        {
            if (address is null)
            {
                return 0;
            }

            lock (_gate)
            {
                _perAddress.TryGetValue(address, out int count);
                count += change;
                if (count <= 0)
                {
                    _perAddress.Remove(address);
                }
                else
                {
                    _perAddress[address] = count;
                }

                return count;
            }
        }

        private async Task HandleRequestAsync(TcpClient client, Stream stream, string remote, ArrivalDeadline arrival, CancellationToken stopping)
        {
            var reader = new HttpRequestReader(stream);
            HttpRequestHead? head = null;
            CancellationToken cancellation = arrival.Token;
            try
            {
                head = await reader.ReadHeadAsync(cancellation).ConfigureAwait(false);
                if (head is null)
                {
                    return;
                }

                arrival.HeadArrived();
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

                // The request is in; what follows waits for the pipeline, however long it takes.
                arrival.RequestArrived();
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

                WebhookSpool? spool = _options.Spool;
                int slots = spool is null ? events.Count : CountNew(spool, events);
                if (!TryTakeSlots(slots))
                {
                    _log.Verbose($"POST {head.Path} from {remote}: 503 (all the events asked for were already received; the sender will deliver this one again).");
                    await RespondAsync(stream, 503, "Service Unavailable", "This listener takes no more events.", retryAfter: true).ConfigureAwait(false);
                    return;
                }

                bool safe = spool is null
                    ? await DeliverAsync(events, head, remote, stopping).ConfigureAwait(false)
                    : SpoolEvents(spool, events, slots, head, remote, stopping);
                try
                {
                    if (safe)
                    {
                        await RespondAsync(stream, 202, "Accepted", null, retryAfter: false).ConfigureAwait(false);
                    }
                    else
                    {
                        await RespondAsync(stream, 503, "Service Unavailable", "The event was not processed; deliver it again.", retryAfter: true).ConfigureAwait(false);
                    }

                    await LingerAsync(client, stream).ConfigureAwait(false);
                }
                finally
                {
                    StopAcceptingIfDone();
                }
            }
            catch (HttpRefusal refusal)
            {
                if (refusal.Status != 401 && refusal.Status != 400)
                {
                    _log.Verbose($"{head?.Method ?? "A request"} {(head is null ? string.Empty : head.Path + " ")}from {remote}: {refusal.Status} {refusal.Reason} ({refusal.Message})");
                }
                else if (refusal.Status == 400 && head is null)
                {
                    _log.Verbose($"A request from {remote}: 400 ({refusal.Message})");
                }

                await RespondAsync(stream, refusal.Status, refusal.Reason, refusal.Message, retryAfter: false, allow: refusal.Status == 405).ConfigureAwait(false);
                await LingerAsync(client, stream).ConfigureAwait(false);
            }
        }

        /// <summary>No spool: hands each event to the pipeline and waits until the pipeline returned from all of them.</summary>
        private async Task<bool> DeliverAsync(List<RegistrationEvent> events, HttpRequestHead head, string remote, CancellationToken stopping)
        {
            var handoffs = events.Select(e => new PipelineHandoff<RegistrationEvent>(e)).ToList();
            foreach (PipelineHandoff<RegistrationEvent> handoff in handoffs)
            {
                _onEvent(handoff);
            }

            bool delivered = await AllDeliveredAsync(handoffs, stopping).ConfigureAwait(false);
            foreach (RegistrationEvent received in events)
            {
                _log.Verbose($"POST {head.Path} from {remote}: {(delivered ? "202" : "503, not processed")}; {Describe(received)}.");
            }

            if (delivered)
            {
                Interlocked.Add(ref _accepted, events.Count);
            }

            return delivered;
        }

        /// <summary>
        /// Spool: writes each new event durably (a repeat of a spooled or recent one is not written again), then hands it
        /// to the pipeline. When one cannot be written, those written before it are still handed on (the sender's retry
        /// finds them repeats), the slots of the rest are given back, and false is returned so the delivery gets 503.
        /// </summary>
        private bool SpoolEvents(WebhookSpool spool, List<RegistrationEvent> events, int slots, HttpRequestHead head, string remote, CancellationToken stopping)
        {
            var added = new List<SpooledEvent>();
            bool all = true;
            try
            {
                foreach (RegistrationEvent received in events)
                {
                    SpooledEvent? spooled = spool.Add(received);
                    if (spooled is null)
                    {
                        _log.Verbose($"POST {head.Path} from {remote}: 202; a repeat of event {received.EventId}, which is in the spool or was processed recently; not written again.");
                        continue;
                    }

                    added.Add(spooled);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                _log.Warning($"Could not write a webhook event from {remote} to the spool ({ex.Message}); answered 503 so the sender delivers it again.");
                Interlocked.Add(ref _remainingEvents, slots - added.Count);
                all = false;
            }

            foreach (SpooledEvent spooled in added)
            {
                _log.Verbose($"POST {head.Path} from {remote}: {(all ? "202 (spooled)" : "503, as a later event could not be written; this one is spooled")}; {Describe(spooled.Event)}.");
                Interlocked.Increment(ref _accepted);
                HandOffSpooled(spooled, stopping);
            }

            return all;
        }

        /// <summary>The events the spool will take: not repeats of spooled or recent ones, nor of one earlier in the same body.</summary>
        private static int CountNew(WebhookSpool spool, List<RegistrationEvent> events)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            return events.Count(e => e.EventId is null || (!spool.IsRepeat(e.EventId) && seen.Add(e.EventId)));
        }

        private void StopAcceptingIfDone()
        {
            if (Volatile.Read(ref _remainingEvents) <= 0)
            {
                _accepting?.Cancel();
            }
        }

        private static string Describe(RegistrationEvent e) =>
            $"{e.EventType ?? "event"} for file {e.FileId} in operation {e.OperationId} ({e.RecordIds.Length} record ids)";

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

        /// <summary>
        /// Compares the header value as the bytes it arrived as (the reader keeps one character per byte) with the
        /// required value's UTF-8 bytes, in time that depends only on the lengths.
        /// </summary>
        private static bool FixedTimeEquals(string actual, string expected)
        {
            byte[] a = new byte[actual.Length];
            for (int i = 0; i < actual.Length; i++)
            {
                a[i] = (byte)actual[i];
            }

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
        private static async Task LingerAsync(TcpClient client, Stream stream)
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

    /// <summary>
    /// The deadlines for a request to arrive: its head (and TLS handshake) within HeadTimeout of the connection, all
    /// of it within RequestTimeout. Expiry, or a stop while the request is still arriving, closes the connection (the
    /// only way to end a read reliably on every runtime); once the request is in, neither applies.
    /// </summary>
    internal sealed class ArrivalDeadline : IDisposable
    {
        private readonly WebhookListenerOptions _options;
        private readonly System.Diagnostics.Stopwatch _since = System.Diagnostics.Stopwatch.StartNew();
        private readonly CancellationTokenSource _expiry = new CancellationTokenSource();
        private readonly CancellationTokenSource _reading;
        private readonly CancellationTokenRegistration _close;
        private string _phase = "head";

        public ArrivalDeadline(TcpClient client, WebhookListenerOptions options, CancellationToken stopping)
        {
            _options = options;
            _reading = CancellationTokenSource.CreateLinkedTokenSource(_expiry.Token, stopping);
            _expiry.CancelAfter(options.HeadTimeout);
            _close = _reading.Token.Register(() => client.Close());
        }

        public CancellationToken Token => _reading.Token;

        public bool Expired => _expiry.IsCancellationRequested;

        public void HeadArrived()
        {
            _phase = "whole request";
            TimeSpan left = _options.RequestTimeout - _since.Elapsed;
            _expiry.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
        }

        public void RequestArrived()
        {
            _close.Dispose();
            _expiry.CancelAfter(Timeout.Infinite);
        }

        public string Describe() =>
            $"its {_phase} within {(_phase == "head" ? _options.HeadTimeout : _options.RequestTimeout).TotalSeconds:0.#} s";

        public void Dispose()
        {
            _close.Dispose();
            _reading.Dispose();
            _expiry.Dispose();
        }
    }
}
