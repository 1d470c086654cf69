using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Webhooks;
using Kalbio.PowerShell.Model;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The webhook listener against malformed and hostile requests sent as raw bytes over a socket: each gets the
    /// expected status (0: the connection is closed without an answer), nothing is emitted for it, and the listener
    /// still takes a good delivery afterwards.
    /// </summary>
    public sealed class HostileRequestTests
    {
        private const string Secret = "sécret-ключ";
        private const int BodyLimit = 1024;

        private static readonly string GoodBody = "{\"event_type\":\"registration_submitted\",\"event_id\":\"ev-1\",\"operation_id\":\"op-1\",\"file_id\":\"f-1\",\"record_ids\":[\"r1\"]}";

        public static IEnumerable<object[]> Cases() => HostileCases().Select(c => new object[] { c.Name, c.Status });

        [Theory]
        [MemberData(nameof(Cases))]
        public async Task A_hostile_request_gets_its_status_and_the_listener_still_serves(string name, int expected)
        {
            HostileCase hostile = HostileCases().Single(c => c.Name == name);
            await using var running = RunningListener.Start(new WebhookListenerOptions { Path = "/hooks", MaximumBodySize = BodyLimit, HeadTimeout = TimeSpan.FromSeconds(1), RequestTimeout = TimeSpan.FromSeconds(2) });

            string answer = await SendRawAsync(running.Port, hostile.Request(), hostile.HalfClose);

            Assert.Equal(expected, StatusOf(answer));
            Assert.Equal(hostile.Emits, running.Emitted.Count);
            string good = await SendRawAsync(running.Port, Request(GoodBody), halfClose: false);
            Assert.Equal(202, StatusOf(good));
            Assert.Equal(hostile.Emits + 1, running.Emitted.Count);
        }

        [Fact]
        public async Task The_table_has_at_least_30_cases_each_named_once()
        {
            List<HostileCase> cases = HostileCases().ToList();
            Assert.True(cases.Count >= 30, $"{cases.Count} cases");
            Assert.Equal(cases.Count, cases.Select(c => c.Name).Distinct().Count());
            await Task.CompletedTask;
        }

        [Fact]
        public async Task A_pipelined_second_request_is_not_read_only_the_first_is_answered()
        {
            await using var running = RunningListener.Start(new WebhookListenerOptions { Path = "/hooks" });
            byte[] first = Request(GoodBody);
            byte[] second = Request(GoodBody.Replace("f-1", "f-2"));

            string answer = await SendRawAsync(running.Port, first.Concat(second).ToArray(), halfClose: true);

            Assert.Single(Regex.Matches(answer, "^HTTP/1\\.1 ", RegexOptions.Multiline));
            Assert.Equal(202, StatusOf(answer));
            Assert.Contains("Connection: close", answer);
            Assert.Equal(new[] { "f-1" }, running.Emitted.Select(e => e.FileId));
        }

        [Fact]
        public async Task Connections_beyond_the_per_address_limit_get_503_while_others_stall()
        {
            await using var running = RunningListener.Start(new WebhookListenerOptions { MaximumConnectionsPerAddress = 2, HeadTimeout = TimeSpan.FromSeconds(20), RequestTimeout = TimeSpan.FromSeconds(20) });
            var stalled = new List<TcpClient>();
            try
            {
                for (int i = 0; i < 2; i++)
                {
                    var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, running.Port);
                    await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: x\r\n"));
                    stalled.Add(client);
                }

                await WaitUntilAsync(() => running.OpenFromLoopback == 2);
                string third = await SendRawAsync(running.Port, Request(GoodBody, path: "/"), halfClose: false);

                Assert.Equal(503, StatusOf(third));
                Assert.Contains("Retry-After: ", third);
                Assert.Contains("Too many connections from your address", third);
            }
            finally
            {
                stalled.ForEach(c => c.Dispose());
            }

            // The slots are given back when the stalled clients leave.
            await WaitUntilAsync(() => running.OpenFromLoopback == 0);
            Assert.Equal(202, StatusOf(await SendRawAsync(running.Port, Request(GoodBody, path: "/"), halfClose: false)));
        }

        [Fact]
        public async Task A_required_header_is_compared_as_UTF8_bytes()
        {
            var options = new WebhookListenerOptions();
            options.RequiredHeaders.Add(new KeyValuePair<string, string>("X-Secret", Secret));
            await using var running = RunningListener.Start(options);

            Assert.Equal(202, StatusOf(await SendRawAsync(running.Port, Request(GoodBody, path: "/", secret: Encoding.UTF8.GetBytes(Secret)), false)));
            Assert.Equal(401, StatusOf(await SendRawAsync(running.Port, Request(GoodBody, path: "/", secret: Encoding.GetEncoding("ISO-8859-1").GetBytes("sécret-????")), false)));
            Assert.Equal(401, StatusOf(await SendRawAsync(running.Port, Request(GoodBody, path: "/", secret: Encoding.UTF8.GetBytes(Secret + "x")), false)));
            Assert.Single(running.Emitted);
        }

        private static IEnumerable<HostileCase> HostileCases()
        {
            string body = GoodBody;
            int n = Encoding.UTF8.GetByteCount(body);
            string head = "POST /hooks HTTP/1.1\r\nHost: listener\r\nContent-Type: application/json\r\n";
            HostileCase Raw(string name, int status, string text, bool halfClose = false) => new HostileCase(name, status, () => Latin1(text), halfClose);

            yield return Raw("smuggling: Content-Length and Transfer-Encoding", 400, head + $"Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
            yield return Raw("smuggling: Transfer-Encoding before Content-Length", 400, head + $"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n");
            yield return Raw("smuggling: Transfer-Encoding with odd spacing and Content-Length", 400, head + $"Transfer-Encoding : chunked\r\nContent-Length: {n}\r\n\r\n{body}");
            yield return Raw("two differing Content-Length headers", 400, head + $"Content-Length: {n}\r\nContent-Length: {n + 1}\r\n\r\n{body}");
            yield return Raw("a Content-Length list with differing values", 400, head + $"Content-Length: {n}, {n + 5}\r\n\r\n{body}");
            yield return Raw("a negative Content-Length", 400, head + "Content-Length: -1\r\n\r\n");
            yield return Raw("a Content-Length with a sign", 400, head + $"Content-Length: +{n}\r\n\r\n{body}");
            yield return Raw("a hexadecimal Content-Length", 400, head + "Content-Length: 0x40\r\n\r\n");
            yield return Raw("a Content-Length beyond 64 bits", 400, head + "Content-Length: 184467440737095516160\r\n\r\n");
            yield return Raw("a Content-Length over the body limit", 413, head + "Content-Length: 268435456\r\n\r\n");
            yield return Raw("a chunk size that is not hexadecimal", 400, head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
            yield return Raw("a negative chunk size", 400, head + "Transfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n");
            yield return Raw("a chunk size beyond 32 bits", 400, head + "Transfer-Encoding: chunked\r\n\r\n1FFFFFFFF\r\n");
            yield return Raw("chunk sizes that add up over the body limit", 413, head + "Transfer-Encoding: chunked\r\n\r\n300\r\n" + new string('x', 0x300) + "\r\n300\r\n");
            yield return Raw("a chunk longer than its size", 400, head + "Transfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n");
            yield return Raw("an unsupported transfer coding", 501, head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
            yield return Raw("a body cut short (the client closes)", 400, head + $"Content-Length: {n}\r\n\r\n{body.Substring(0, 10)}", halfClose: true);
            yield return Raw("a chunked body cut short (the client closes)", 400, head + "Transfer-Encoding: chunked\r\n\r\n10\r\nabc", halfClose: true);
            yield return Raw("a body that stalls past the request deadline", 0, head + $"Content-Length: {n}\r\n\r\n{body.Substring(0, 10)}");
            yield return Raw("a head that stalls past the head deadline", 0, "POST /hooks HTTP/1.1\r\nHost: li");
            yield return Raw("a head over 32 KiB", 431, head + string.Concat(Enumerable.Range(0, 400).Select(i => $"X-Pad-{i}: {new string('p', 90)}\r\n")) + "\r\n");
            yield return Raw("a request line over 32 KiB", 431, "POST /" + new string('a', 40 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n");
            yield return Raw("a bare CR in a header value", 400, head + "X-Note: a\rb\r\nContent-Length: 0\r\n\r\n");
            yield return Raw("a bare LF ending a header line", 400, "POST /hooks HTTP/1.1\r\nHost: listener\nContent-Length: 0\r\n\r\n");
            yield return Raw("a NUL in a header value", 400, head + "X-Note: a\0b\r\nContent-Length: 0\r\n\r\n");
            yield return Raw("obsolete line folding", 400, head + "X-Note: a\r\n folded\r\nContent-Length: 0\r\n\r\n");
            yield return Raw("HTTP/1.1 without Host", 400, "POST /hooks HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
            yield return Raw("two Host headers", 400, head + "Host: other\r\nContent-Length: 0\r\n\r\n");
            yield return Raw("a space in a header name", 400, head + "X Bad: 1\r\nContent-Length: 0\r\n\r\n");
            yield return Raw("a space before the colon", 400, head + "Content-Length : 0\r\n\r\n");
            yield return Raw("a request line with a double space", 400, "POST  /hooks HTTP/1.1\r\nHost: x\r\n\r\n");
            yield return Raw("a request line with a control character", 400, "POST /ho\x01oks HTTP/1.1\r\nHost: x\r\n\r\n");
            yield return Raw("an HTTP/2 connection preface", 505, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
            yield return Raw("an HTTP/0.9 request", 400, "GET /hooks\r\n\r\n");
            yield return Raw("a lower-case method", 400, "post /hooks HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
            yield return new HostileCase("bytes that are not HTTP", 400, () => new byte[] { 0x00, 0xFF, 0x13, 0x37, 0x0A, 0x0D, 0x0A }, false);
            yield return new HostileCase("a TLS ClientHello to the plain listener", 400, () => new byte[] { 0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03 }.Concat(new byte[160]).ToArray(), false);
            yield return Raw("an unknown Expect", 417, head + $"Expect: 200-ok\r\nContent-Length: {n}\r\n\r\n{body}");
            yield return Raw("GET instead of POST", 405, "GET /hooks HTTP/1.1\r\nHost: x\r\n\r\n");
            yield return Raw("another path in absolute form", 404, $"POST http://listener/other HTTP/1.1\r\nHost: listener\r\nContent-Length: {n}\r\n\r\n{body}");
            yield return Raw("a body that is not JSON", 400, head + "Content-Length: 5\r\n\r\nhello");
            yield return Raw("JSON nested beyond any event", 400, head + "Content-Length: 1000\r\n\r\n" + new string('[', 500) + new string(']', 500));
            yield return Raw("a connection closed before any byte", 0, string.Empty, halfClose: true);
            yield return new HostileCase("a good delivery with Expect: 100-continue", 202, () => Latin1(head + $"Expect: 100-continue\r\nContent-Length: {n}\r\n\r\n{body}"), false) { Emits = 1 };
        }

        private static byte[] Request(string body, string path = "/hooks", byte[]? secret = null)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            var head = new MemoryStream();
            head.Write(Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: listener\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\n"));
            if (secret != null)
            {
                head.Write(Encoding.ASCII.GetBytes("X-Secret: "));
                head.Write(secret);
                head.Write(Encoding.ASCII.GetBytes("\r\n"));
            }

            head.Write(Encoding.ASCII.GetBytes("\r\n"));
            head.Write(bytes);
            return head.ToArray();
        }

        private static byte[] Latin1(string text) => text.Select(c => (byte)c).ToArray();

        /// <summary>Sends the bytes (half-closing when asked) and reads the whole answer until the listener closes; "" if none.</summary>
        private static async Task<string> SendRawAsync(int port, byte[] request, bool halfClose)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            NetworkStream stream = client.GetStream();
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await stream.WriteAsync(request, patience.Token);
                if (halfClose)
                {
                    client.Client.Shutdown(SocketShutdown.Send);
                }
            }
            catch (IOException)
            {
                // The listener may answer and close before the whole request was sent; the answer is still to read.
            }

            var answer = new MemoryStream();
            byte[] buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, patience.Token)) > 0)
                {
                    answer.Write(buffer, 0, read);
                }
            }
            catch (IOException) when (answer.Length > 0)
            {
            }
            catch (IOException)
            {
                // Reset without an answer.
            }

            Assert.False(patience.IsCancellationRequested, "The listener neither answered nor closed the connection within 20 s.");
            return Encoding.UTF8.GetString(answer.ToArray());
        }

        private static int StatusOf(string answer)
        {
            // An interim 100 Continue may come first.
            Match final = Regex.Matches(answer, "^HTTP/1\\.1 (\\d{3}) ", RegexOptions.Multiline).Cast<Match>().LastOrDefault(m => m.Groups[1].Value != "100")!;
            return final is null ? 0 : int.Parse(final.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        private static async Task WaitUntilAsync(Func<bool> condition)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(20);
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, "The condition did not come true within 20 s.");
                await Task.Delay(20);
            }
        }

        private sealed record HostileCase(string Name, int Status, Func<byte[]> Request, bool HalfClose)
        {
            public int Emits { get; init; }
        }

        /// <summary>A started listener whose pipeline takes every event at once, as a fast downstream would.</summary>
        internal sealed class RunningListener : IAsyncDisposable
        {
            private readonly CancellationTokenSource _stop = new CancellationTokenSource();
            private readonly WebhookListener _listener;
            private readonly Task _run;

            private RunningListener(WebhookListenerOptions options)
            {
                var log = new RecordingLog(Log);
                _listener = new WebhookListener(options, log);
                _listener.Start();
                _run = _listener.RunAsync(
                    handoff =>
                    {
                        if (handoff.TryStartWriting())
                        {
                            Emitted.Enqueue(handoff.Item);
                            handoff.Written();
                        }
                    },
                    _ => { },
                    _stop.Token);
            }

            public ConcurrentQueue<RegistrationEvent> Emitted { get; } = new ConcurrentQueue<RegistrationEvent>();

            public ConcurrentQueue<string> Log { get; } = new ConcurrentQueue<string>();

            public int Port => _listener.LocalEndpoint!.Port;

            public int OpenFromLoopback => _listener.OpenConnectionsFrom(IPAddress.Loopback);

            public static RunningListener Start(WebhookListenerOptions options) => new RunningListener(options);

            public async ValueTask DisposeAsync()
            {
                _stop.Cancel();
                try
                {
                    await _run;
                }
                catch (OperationCanceledException)
                {
                }

                _listener.Dispose();
                _stop.Dispose();
            }
        }

        private sealed class RecordingLog : IKalLog
        {
            private readonly ConcurrentQueue<string> _lines;

            public RecordingLog(ConcurrentQueue<string> lines) => _lines = lines;

            public bool IsVerboseEnabled => true;

            public bool IsDebugEnabled => true;

            public void Verbose(string message) => _lines.Enqueue(message);

            public void Debug(string message) => _lines.Enqueue(message);

            public void Warning(string message) => _lines.Enqueue(message);
        }
    }
}
