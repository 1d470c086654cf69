using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using Kalbio.PowerShell.Model;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Receive-KalWebhookEvent in a hosted runspace, fed by the sandbox's webhook sender and by hand-made requests.</summary>
    public sealed class ReceiveWebhookEventTests : IClassFixture<SandboxFixture>, IDisposable
    {
        private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
        private readonly SandboxFixture _sandbox;
        private readonly HostedPowerShell _host = new HostedPowerShell();
        private readonly HttpClient _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = Patience };
        private readonly int _port = FreePort();

        public ReceiveWebhookEventTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
            foreach (string id in new[] { "file-a", "file-b", "file-c" })
            {
                _sandbox.State.SeedFile(new SeedFileRequest { FileId = id, FileName = id + ".csv", Content = "record_id\nr1\n", RecordIds = new[] { id + "-r1", id + "-r2" } });
            }
        }

        public void Dispose()
        {
            _http.Dispose();
            _host.Dispose();
        }

        [Fact]
        public async Task Receives_the_sandboxs_events_as_typed_objects_and_stops_after_Count()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Path /hooks/kal -Count 3");
            await receiver.WaitUntilListeningAsync(_port);
            string url = $"http://127.0.0.1:{_port}/hooks/kal";

            foreach (string id in new[] { "file-a", "file-b", "file-c" })
            {
                WebhookDelivery delivery = await _sandbox.State.SendWebhookAsync("op-1", id, url);
                Assert.Equal(202, delivery.Status);
            }

            var (output, errors) = receiver.Finish();
            Assert.Empty(errors);
            var events = output.Select(o => (RegistrationEvent)o.BaseObject).ToList();
            Assert.Equal(new[] { "file-a", "file-b", "file-c" }, events.Select(e => e.FileId));
            RegistrationEvent first = events[0];
            Assert.Equal("registration_submitted", first.EventType);
            Assert.Equal("op-1", first.OperationId);
            Assert.Equal("file-a.csv", first.FileName);
            Assert.Equal($"{_sandbox.BaseUri.ToString().TrimEnd('/')}/files/file-a", first.FileUrl);
            Assert.Equal(new[] { "file-a-r1", "file-a-r2" }, first.RecordIds);
            Assert.False(string.IsNullOrEmpty(first.EventId));
        }

        [Fact]
        public async Task Writes_each_event_to_the_pipeline_while_still_listening()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port}");
            await receiver.WaitUntilListeningAsync(_port);

            await _sandbox.State.SendWebhookAsync("op-1", "file-b", $"http://127.0.0.1:{_port}/any/path");
            await receiver.WaitForOutputAsync(1);

            Assert.False(receiver.IsCompleted);
            Assert.Equal("file-b", ((RegistrationEvent)receiver.Output[0].BaseObject).FileId);
        }

        [Fact]
        public async Task A_delivery_without_the_required_header_value_gets_401_a_warning_and_is_not_written()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Count 1 -RequiredHeader @{{ 'X-Webhook-Secret' = (ConvertTo-SecureString 's3cret-value' -AsPlainText -Force) }}");
            await receiver.WaitUntilListeningAsync(_port);
            string url = $"http://127.0.0.1:{_port}/";

            Assert.Equal(401, (await _sandbox.State.SendWebhookAsync("op-1", "file-a", url)).Status);
            _sandbox.State.SetWebhookHeaders(new Dictionary<string, string> { ["X-Webhook-Secret"] = "s3cret-valuf" });
            Assert.Equal(401, (await _sandbox.State.SendWebhookAsync("op-1", "file-b", url)).Status);
            _sandbox.State.SetWebhookHeaders(new Dictionary<string, string> { ["X-Webhook-Secret"] = "s3cret-value" });
            Assert.Equal(202, (await _sandbox.State.SendWebhookAsync("op-1", "file-c", url)).Status);

            var (output, errors) = receiver.Finish();
            Assert.Empty(errors);
            Assert.Equal("file-c", ((RegistrationEvent)output.Single().BaseObject).FileId);
            string warnings = string.Join("\n", receiver.Warnings);
            Assert.Contains("'X-Webhook-Secret' is missing or has the wrong value", warnings);
            Assert.Equal(2, receiver.Warnings.Count);
            Assert.DoesNotContain("s3cret", warnings);
        }

        [Fact]
        public async Task Refuses_another_path_another_method_and_a_body_over_the_limit_then_takes_a_chunked_body()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Path /hooks -Count 1 -MaximumBodySize 1024");
            await receiver.WaitUntilListeningAsync(_port);
            string hooks = $"http://127.0.0.1:{_port}/hooks";

            using (HttpResponseMessage wrongPath = await _http.PostAsync($"http://127.0.0.1:{_port}/other", Json(Event("f-1"))))
            {
                Assert.Equal(HttpStatusCode.NotFound, wrongPath.StatusCode);
            }

            using (HttpResponseMessage get = await _http.GetAsync(hooks))
            {
                Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
                Assert.Equal("POST", string.Join(",", get.Content.Headers.Allow));
            }

            string large = Event("f-2").Replace("\"r1\"", "\"" + new string('x', 2000) + "\"");
            using (HttpResponseMessage tooLarge = await _http.PostAsync(hooks, Json(large)))
            {
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
            }

            // A stream of unknown length is sent chunked.
            var chunked = new StreamContent(new NonSeekableStream(Encoding.UTF8.GetBytes(Event("f-3"))));
            using (HttpResponseMessage accepted = await _http.PostAsync(hooks + "/?source=test", chunked))
            {
                Assert.Null(accepted.RequestMessage!.Content!.Headers.ContentLength);
                Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            }

            var (output, errors) = receiver.Finish();
            Assert.Empty(errors);
            Assert.Equal("f-3", ((RegistrationEvent)output.Single().BaseObject).FileId);
        }

        [Fact]
        public async Task A_body_that_is_not_an_event_gets_400_and_a_non_terminating_error()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Count 1");
            await receiver.WaitUntilListeningAsync(_port);
            string url = $"http://127.0.0.1:{_port}/";

            using (HttpResponseMessage malformed = await _http.PostAsync(url, Json("{\"operation_id\":")))
            {
                Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
            }

            using (HttpResponseMessage missing = await _http.PostAsync(url, Json("{\"operation_id\":\"op\"}")))
            {
                Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
                Assert.Contains("has no file_id", await missing.Content.ReadAsStringAsync());
            }

            using (HttpResponseMessage good = await _http.PostAsync(url, Json(Event("f-1"))))
            {
                Assert.Equal(HttpStatusCode.Accepted, good.StatusCode);
            }

            var (output, errors) = receiver.Finish();
            Assert.Single(output);
            Assert.Equal(
                new[] { "InvalidWebhookEventJson,Kalbio.PowerShell.Commands.ReceiveKalWebhookEventCommand", "WebhookEventMissingField,Kalbio.PowerShell.Commands.ReceiveKalWebhookEventCommand" },
                errors.Select(e => e.FullyQualifiedErrorId));
            Assert.All(errors, e => Assert.Equal(ErrorCategory.InvalidData, e.CategoryInfo.Category));
        }

        [Fact]
        public async Task Deliveries_beyond_Count_get_503_so_the_sender_keeps_them()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Count 1");
            await receiver.WaitUntilListeningAsync(_port);
            string url = $"http://127.0.0.1:{_port}/";

            using (HttpResponseMessage twoEvents = await _http.PostAsync(url, Json($"[{Event("f-1")},{Event("f-2")}]")))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, twoEvents.StatusCode);
                Assert.NotNull(twoEvents.Headers.RetryAfter);
            }

            using (HttpResponseMessage one = await _http.PostAsync(url, Json(Event("f-3"))))
            {
                Assert.Equal(HttpStatusCode.Accepted, one.StatusCode);
            }

            var (output, errors) = receiver.Finish();
            Assert.Empty(errors);
            Assert.Equal("f-3", ((RegistrationEvent)output.Single().BaseObject).FileId);
        }

        [Fact]
        public async Task With_Count_and_TimeoutSec_stops_at_the_timeout_and_reports_the_missing_events()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Count 2 -TimeoutSec 2");
            await receiver.WaitUntilListeningAsync(_port);
            using (HttpResponseMessage one = await _http.PostAsync($"http://127.0.0.1:{_port}/", Json(Event("f-1"))))
            {
                Assert.Equal(HttpStatusCode.Accepted, one.StatusCode);
            }

            var (output, errors) = receiver.Finish();
            Assert.Single(output);
            ErrorRecord timeout = Assert.Single(errors);
            Assert.Equal("WebhookEventTimeout,Kalbio.PowerShell.Commands.ReceiveKalWebhookEventCommand", timeout.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.OperationTimeout, timeout.CategoryInfo.Category);
            Assert.Contains("Received 1 of 2 webhook events", timeout.Exception.Message);
            AssertPortIsFree(_port);
        }

        [Fact]
        public void With_only_TimeoutSec_stops_quietly_when_the_time_is_up()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} -TimeoutSec 1");

            var (output, errors) = receiver.Finish();

            Assert.Empty(output);
            Assert.Empty(errors);
            AssertPortIsFree(_port);
        }

        [Fact]
        public async Task Ctrl_C_stops_the_listener_and_frees_the_port()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port}");
            await receiver.WaitUntilListeningAsync(_port);

            receiver.Stop();

            Assert.True(receiver.IsCompleted);
            Assert.Equal(PSInvocationState.Stopped, receiver.State);
            AssertPortIsFree(_port);
        }

        [Fact]
        public void A_port_in_use_is_a_terminating_error_that_says_so()
        {
            var taken = new TcpListener(IPAddress.Loopback, _port);
            taken.Start();
            try
            {
                var (output, errors) = _host.Invoke($"Receive-KalWebhookEvent -Port {_port} -Count 1");

                Assert.Empty(output);
                ErrorRecord error = Assert.Single(errors);
                Assert.Equal("WebhookListenerPortInUse,Kalbio.PowerShell.Commands.ReceiveKalWebhookEventCommand", error.FullyQualifiedErrorId);
                Assert.Equal(ErrorCategory.ResourceUnavailable, error.CategoryInfo.Category);
                Assert.Contains($"Port {_port} on 127.0.0.1 is already in use", error.Exception.Message);
            }
            finally
            {
                taken.Stop();
            }
        }

        [Fact]
        public void A_required_header_with_an_invalid_name_is_refused_before_listening()
        {
            var (_, errors) = _host.Invoke($"Receive-KalWebhookEvent -Port {_port} -Count 1 -RequiredHeader @{{ 'Bad Name' = 'x' }}");

            Assert.Equal("InvalidRequiredHeader,Kalbio.PowerShell.Commands.ReceiveKalWebhookEventCommand", Assert.Single(errors).FullyQualifiedErrorId);
            AssertPortIsFree(_port);
        }

        internal static string Event(string fileId) =>
            $"{{\"event_type\":\"registration_submitted\",\"data\":{{\"operation_id\":\"op-1\",\"file_id\":\"{fileId}\",\"record_ids\":[\"r1\"]}}}}";

        internal static StringContent Json(string text) => new StringContent(text, Encoding.UTF8, "application/json");

        internal static int FreePort()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            return port;
        }

        private static void AssertPortIsFree(int port)
        {
            var again = new TcpListener(IPAddress.Loopback, port);
            again.Start();
            again.Stop();
        }

        /// <summary>Receive-KalWebhookEvent running asynchronously in the hosted runspace.</summary>
        internal sealed class Receiver : IDisposable
        {
            private readonly System.Management.Automation.PowerShell _shell;
            private readonly IAsyncResult _handle;

            private Receiver(System.Management.Automation.PowerShell shell)
            {
                _shell = shell;
                _handle = shell.BeginInvoke<PSObject, PSObject>(null, Output);
            }

            public PSDataCollection<PSObject> Output { get; } = new PSDataCollection<PSObject>();

            public bool IsCompleted => _handle.IsCompleted;

            public PSInvocationState State => _shell.InvocationStateInfo.State;

            // Copies (CopyTo), never enumerates: enumerating a stream of a running pipeline may wait for it to end.
            public List<string> Warnings => Copy(_shell.Streams.Warning).Select(w => w.Message).ToList();

            public List<string> Information => Copy(_shell.Streams.Information).Select(i => i.MessageData.ToString()!).ToList();

            public static Receiver Start(HostedPowerShell host, string parameters) => StartScript(host, "Receive-KalWebhookEvent " + parameters);

            /// <summary>Runs a whole script around Receive-KalWebhookEvent (e.g. importing a test command for downstream first).</summary>
            public static Receiver StartScript(HostedPowerShell host, string script)
            {
                var shell = System.Management.Automation.PowerShell.Create();
                shell.Runspace = host.Runspace;
                shell.AddScript(script);
                return new Receiver(shell);
            }

            public async Task WaitUntilListeningAsync(int port)
            {
                DateTime deadline = DateTime.UtcNow + Patience;
                while (true)
                {
                    if (_handle.IsCompleted)
                    {
                        Assert.Fail("Receive-KalWebhookEvent ended before listening: " + string.Join("; ", Copy(_shell.Streams.Error).Select(e => e.ToString())));
                    }

                    using var probe = new TcpClient();
                    try
                    {
                        await probe.ConnectAsync(IPAddress.Loopback, port);

                        // On Linux a connect to a port nobody listens on can meet itself (same source port): not a listener.
                        if (((IPEndPoint)probe.Client.LocalEndPoint!).Port != port)
                        {
                            return;
                        }
                    }
                    catch (SocketException) when (DateTime.UtcNow < deadline)
                    {
                    }

                    Assert.True(DateTime.UtcNow < deadline, $"Nothing listened on port {port}.");
                    await Task.Delay(50);
                }
            }

            public async Task WaitForOutputAsync(int count)
            {
                DateTime deadline = DateTime.UtcNow + Patience;
                while (Output.Count < count && DateTime.UtcNow < deadline && !_handle.IsCompleted)
                {
                    await Task.Delay(20);
                }

                Assert.True(Output.Count >= count, $"Expected {count} events on the pipeline; saw {Output.Count}.");
            }

            public (IReadOnlyList<PSObject> Output, IReadOnlyList<ErrorRecord> Errors) Finish()
            {
                Assert.True(_handle.AsyncWaitHandle.WaitOne(Patience), "Receive-KalWebhookEvent did not stop by itself.");
                var errors = new List<ErrorRecord>();
                try
                {
                    _shell.EndInvoke(_handle);
                }
                catch (RuntimeException ex)
                {
                    errors.Add(ex.ErrorRecord);
                }

                errors.InsertRange(0, Copy(_shell.Streams.Error));
                return (Copy(Output), errors);
            }

            public void Stop() => _shell.Stop();

            private static List<T> Copy<T>(PSDataCollection<T> collection) => new List<T>(collection);

            public void Dispose()
            {
                if (!_handle.IsCompleted)
                {
                    _shell.Stop();
                }

                _shell.Dispose();
            }
        }

        /// <summary>A body whose length HttpClient cannot know, so it is sent with chunked transfer coding.</summary>
        private sealed class NonSeekableStream : MemoryStream
        {
            public NonSeekableStream(byte[] bytes)
                : base(bytes)
            {
            }

            public override bool CanSeek => false;
        }
    }
}
