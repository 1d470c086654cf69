using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Json;
using Kalbio.Core.Webhooks;
using Kalbio.PowerShell.Model;
using Xunit;
using Receiver = Kalbio.PowerShell.Tests.ReceiveWebhookEventTests.Receiver;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// A 2xx means the event is safe: answered only once the pipeline returned from it, or once it is in the spool;
    /// and HTTPS with -Certificate. Receive-KalWebhookEvent in a hosted runspace, deliveries over loopback.
    /// </summary>
    public sealed class WebhookIntakeTests : IDisposable
    {
        private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
        private readonly HostedPowerShell _host = new HostedPowerShell();
        private readonly HttpClient _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = Patience };
        private readonly int _port = ReceiveWebhookEventTests.FreePort();
        private readonly string _folder = Path.Combine(Path.GetTempPath(), "kalbio-intake-" + Guid.NewGuid().ToString("N"));

        public WebhookIntakeTests() => Directory.CreateDirectory(_folder);

        private string Url => $"http://127.0.0.1:{_port}/";

        private string Spool => Path.Combine(_folder, "spool");

        public void Dispose()
        {
            _http.Dispose();
            _host.Dispose();
            Directory.Delete(_folder, recursive: true);
        }

        [Fact]
        public async Task A_delivery_is_answered_only_after_the_pipeline_returned_from_its_event()
        {
            string marker = Path.Combine(_folder, "processed.txt");
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Count 1 | ForEach-Object {{ Start-Sleep -Milliseconds 500; Set-Content -LiteralPath '{marker}' -Value $_.FileId }}");
            await receiver.WaitUntilListeningAsync(_port);

            using HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(ReceiveWebhookEventTests.Event("f-1")));

            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            Assert.Equal("f-1", File.ReadAllText(marker).Trim());
            Assert.Empty(receiver.Finish().Errors);
        }

        [Fact]
        public async Task A_downstream_that_throws_gets_the_delivery_answered_503_with_Retry_After()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} | ForEach-Object {{ throw 'downstream failed' }}");
            await receiver.WaitUntilListeningAsync(_port);

            using HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(ReceiveWebhookEventTests.Event("f-1")));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
            Assert.NotNull(answer.Headers.RetryAfter);
            Assert.Contains("downstream failed", Assert.Single(receiver.Finish().Errors).ToString());
        }

        [Fact]
        public async Task Ctrl_C_while_events_are_queued_answers_their_delivery_503()
        {
            string marker = Path.Combine(_folder, "processing.txt");
            using var receiver = Receiver.Start(_host, $"-Port {_port} | ForEach-Object {{ Set-Content -LiteralPath '{marker}' -Value $_.FileId; Start-Sleep -Seconds 60 }}");
            await receiver.WaitUntilListeningAsync(_port);
            string three = $"[{ReceiveWebhookEventTests.Event("f-1")},{ReceiveWebhookEventTests.Event("f-2")},{ReceiveWebhookEventTests.Event("f-3")}]";
            Task<HttpResponseMessage> sending = _http.PostAsync(Url, ReceiveWebhookEventTests.Json(three));
            await WaitUntilAsync(() => File.Exists(marker));

            receiver.Stop();

            using HttpResponseMessage answer = await sending;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
            Assert.NotNull(answer.Headers.RetryAfter);
            Assert.Equal(PSInvocationState.Stopped, receiver.State);
        }

        [Fact]
        public async Task With_a_spool_a_repeated_event_id_is_answered_202_and_written_once_even_after_a_restart()
        {
            using (var receiver = Receiver.Start(_host, $"-Port {_port} -Count 4 -SpoolPath '{Spool}' | ForEach-Object {{ Start-Sleep -Milliseconds 200; $_ }}"))
            {
                await receiver.WaitUntilListeningAsync(_port);
                foreach (string body in new[] { WithId("f-a", "ev-a"), WithId("f-a", "ev-a"), WithId("f-a", "ev-a"), ReceiveWebhookEventTests.Event("f-n"), ReceiveWebhookEventTests.Event("f-n"), WithId("f-b", "ev-b") })
                {
                    using HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(body));
                    Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
                }

                var (output, errors) = receiver.Finish();
                Assert.Empty(errors);

                // Without an event id nothing is guessed: the same body twice is two events.
                Assert.Equal(new[] { "f-a", "f-n", "f-n", "f-b" }, output.Select(o => ((RegistrationEvent)o.BaseObject).FileId));
            }

            using (var again = Receiver.Start(_host, $"-Port {_port} -Count 1 -SpoolPath '{Spool}'"))
            {
                await again.WaitUntilListeningAsync(_port);

                // A sender's late redelivery of processed events is answered 202 and not processed again.
                foreach (string body in new[] { WithId("f-a", "ev-a"), WithId("f-b", "ev-b"), WithId("f-c", "ev-c") })
                {
                    using HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(body));
                    Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
                }

                var (output, errors) = again.Finish();
                Assert.Empty(errors);
                Assert.Equal(new[] { "f-c" }, output.Select(o => ((RegistrationEvent)o.BaseObject).FileId));
            }

            Assert.Empty(Directory.GetFiles(Spool, "*.event.json"));
            Assert.Equal(3, File.ReadAllLines(Path.Combine(Spool, "finished.log")).Length);
        }

        [Fact]
        public async Task An_event_whose_downstream_returns_normally_from_Ctrl_C_stays_in_the_spool()
        {
            // Start-Sleep and many compiled commands end their work early and return normally when stopped; the
            // event they were given was not processed, so it must not leave the spool.
            string script = $"Import-Module '{typeof(WaitTestStopCommand).Assembly.Location}'; Receive-KalWebhookEvent -Port {_port} -SpoolPath '{Spool}' | Wait-TestStop";
            using (var receiver = Receiver.StartScript(_host, script))
            {
                await receiver.WaitUntilListeningAsync(_port);
                using (HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(WithId("f-1", "ev-f-1"))))
                {
                    Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
                }

                Assert.True(await WaitTestStopCommand.Holding.WaitAsync(Patience), "The event never reached the downstream command.");
                receiver.Stop();
            }

            Assert.Single(Directory.GetFiles(Spool, "*.event.json"));
            string finished = Path.Combine(Spool, "finished.log");
            Assert.False(File.Exists(finished) && File.ReadAllText(finished).Contains("ev-f-1", StringComparison.Ordinal), "The event was logged as processed.");
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public async Task An_event_whose_downstream_returns_normally_before_Ctrl_C_reaches_the_listener_is_not_called_processed(bool spooled)
        {
            // PowerShell marks the pipeline Stopping before the stop reaches any command; a downstream command cut short
            // has been seen to return normally while the listener's Cmdlet.Stopping was still false (rarely, with
            // ForEach-Object { Start-Sleep } on a busy machine). The test command returns as soon as the stop is asked
            // for and holds the stopping thread until the listener has acted on that return.
            string spool = spooled ? $" -SpoolPath '{Spool}'" : string.Empty;
            string script = $"Import-Module '{typeof(ReturnTestOnStopRequestCommand).Assembly.Location}'; Receive-KalWebhookEvent -Port {_port}{spool} | Return-TestOnStopRequest";
            HttpResponseMessage answer;
            using (var receiver = Receiver.StartScript(_host, script))
            {
                await receiver.WaitUntilListeningAsync(_port);
                Task<HttpResponseMessage> sending = _http.PostAsync(Url, ReceiveWebhookEventTests.Json(WithId("f-1", "ev-f-1")));
                Assert.True(await ReturnTestOnStopRequestCommand.Holding.WaitAsync(Patience), "The event never reached the downstream command.");

                receiver.Stop();
                answer = await sending;
            }

            using (answer)
            {
                if (spooled)
                {
                    Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
                    Assert.Single(Directory.GetFiles(Spool, "*.event.json"));
                    string finished = Path.Combine(Spool, "finished.log");
                    Assert.False(File.Exists(finished) && File.ReadAllText(finished).Contains("ev-f-1", StringComparison.Ordinal), "The event was logged as processed.");
                }
                else
                {
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
                    Assert.NotNull(answer.Headers.RetryAfter);
                }
            }
        }

        [Fact]
        public async Task Events_left_in_the_spool_by_Ctrl_C_or_a_throwing_downstream_come_first_oldest_first_on_the_next_start()
        {
            using (var receiver = Receiver.Start(_host, $"-Port {_port} -SpoolPath '{Spool}' | ForEach-Object {{ Start-Sleep -Seconds 60 }}"))
            {
                await receiver.WaitUntilListeningAsync(_port);
                // f-1 twice: the repeat arrives while the first is still in the spool (the pipeline is busy with it).
                foreach (string id in new[] { "f-1", "f-2", "f-3", "f-1" })
                {
                    using HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(WithId(id, "ev-" + id)));
                    Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
                }

                receiver.Stop();
            }

            Assert.Equal(3, Directory.GetFiles(Spool, "*.event.json").Length);
            using (var throwing = Receiver.Start(_host, $"-Port {_port} -SpoolPath '{Spool}' | ForEach-Object {{ throw 'downstream failed' }}"))
            {
                Assert.Contains("downstream failed", Assert.Single(throwing.Finish().Errors).ToString());
            }

            Assert.Equal(3, Directory.GetFiles(Spool, "*.event.json").Length);
            using (var again = Receiver.Start(_host, $"-Port {_port} -Count 4 -SpoolPath '{Spool}'"))
            {
                await again.WaitUntilListeningAsync(_port);
                using (HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(WithId("f-4", "ev-f-4"))))
                {
                    Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
                }

                var (output, errors) = again.Finish();
                Assert.Empty(errors);
                Assert.Equal(new[] { "f-1", "f-2", "f-3", "f-4" }, output.Select(o => ((RegistrationEvent)o.BaseObject).FileId));
            }

            Assert.Empty(Directory.GetFiles(Spool, "*.event.json"));
        }

        [Fact]
        public async Task A_second_listener_on_the_same_spool_gets_an_error_naming_the_holder()
        {
            using var first = Receiver.Start(_host, $"-Port {_port} -SpoolPath '{Spool}'");
            await first.WaitUntilListeningAsync(_port);
            int otherPort = ReceiveWebhookEventTests.FreePort();

            var (output, errors) = new HostedPowerShell().Invoke($"Receive-KalWebhookEvent -Port {otherPort} -Count 1 -SpoolPath '{Spool}'");

            Assert.Empty(output);
            ErrorRecord error = Assert.Single(errors);
            Assert.Equal("WebhookSpoolInUse,Kalbio.PowerShell.Commands.ReceiveKalWebhookEventCommand", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.ResourceBusy, error.CategoryInfo.Category);
            Assert.Contains($"in use by process {Environment.ProcessId} on {Environment.MachineName}", error.Exception.Message);
        }

        [Fact]
        public async Task Serves_HTTPS_with_the_certificate_to_a_client_that_trusts_exactly_it()
        {
            using X509Certificate2 certificate = SelfSigned();
            string pfx = Path.Combine(_folder, "listener.pfx");
            File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pfx, "pfx-password"));
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Path /hooks -Count 1 -Certificate ([System.Security.Cryptography.X509Certificates.X509Certificate2]::new('{pfx}', 'pfx-password'))");
            await receiver.WaitUntilListeningAsync(_port);

            // Plain HTTP to the TLS listener gets no answer at all, let alone a 2xx.
            await Assert.ThrowsAsync<HttpRequestException>(() => _http.PostAsync($"http://127.0.0.1:{_port}/hooks", ReceiveWebhookEventTests.Json(ReceiveWebhookEventTests.Event("f-0"))));

            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, _port);
            using var tls = new SslStream(client.GetStream(), false, (_, presented, _, errors) =>
                presented != null && presented.GetCertHashString() == certificate.GetCertHashString() && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None);
            await tls.AuthenticateAsClientAsync("127.0.0.1");
            Assert.True(tls.SslProtocol == SslProtocols.Tls12 || tls.SslProtocol == SslProtocols.Tls13, tls.SslProtocol.ToString());
            byte[] body = Encoding.UTF8.GetBytes(ReceiveWebhookEventTests.Event("f-1"));
            await tls.WriteAsync(Encoding.ASCII.GetBytes($"POST /hooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n").Concat(body).ToArray());
            string answer = await new StreamReader(tls, Encoding.ASCII).ReadToEndAsync();

            Assert.StartsWith("HTTP/1.1 202 Accepted", answer);
            var (output, errors) = receiver.Finish();
            Assert.Empty(errors);
            Assert.Equal("f-1", ((RegistrationEvent)output.Single().BaseObject).FileId);
            Assert.Contains($"at https://127.0.0.1:{_port}/hooks (HTTPS)", Assert.Single(receiver.Information));
        }

        [Fact]
        public void A_certificate_without_its_private_key_is_refused_before_listening()
        {
            using X509Certificate2 certificate = SelfSigned();
            string cer = Path.Combine(_folder, "public.cer");
            File.WriteAllBytes(cer, certificate.Export(X509ContentType.Cert));

            var (_, errors) = _host.Invoke($"Receive-KalWebhookEvent -Port {_port} -Count 1 -Certificate ([System.Security.Cryptography.X509Certificates.X509Certificate2]::new([IO.File]::ReadAllBytes('{cer}')))");

            ErrorRecord error = Assert.Single(errors);
            Assert.Equal("WebhookCertificateWithoutPrivateKey,Kalbio.PowerShell.Commands.ReceiveKalWebhookEventCommand", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        }

        [Fact]
        public void Only_a_listener_beyond_this_computer_without_a_certificate_travels_in_clear()
        {
            using X509Certificate2 certificate = SelfSigned();

            // Decided from the options alone: the tests bind nothing but loopback.
            Assert.True(new WebhookListenerOptions { Address = IPAddress.Any }.TravelsInClear);
            Assert.True(new WebhookListenerOptions { Address = IPAddress.IPv6Any }.TravelsInClear);
            Assert.False(new WebhookListenerOptions { Address = IPAddress.Any, Certificate = certificate }.TravelsInClear);
            Assert.False(new WebhookListenerOptions { Address = IPAddress.Loopback }.TravelsInClear);
            Assert.False(new WebhookListenerOptions { Address = IPAddress.IPv6Loopback }.TravelsInClear);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public async Task Select_Object_First_answers_the_event_it_took_202_and_leaves_nothing_in_the_spool(bool spooled)
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port}{(spooled ? $" -SpoolPath '{Spool}'" : string.Empty)} | Select-Object -First 1");
            await receiver.WaitUntilListeningAsync(_port);

            using HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(WithId("f-1", "ev-1")));

            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            var (output, errors) = receiver.Finish();
            Assert.Empty(errors);
            Assert.Equal("f-1", ((RegistrationEvent)output.Single().BaseObject).FileId);
            if (spooled)
            {
                // Processed, so not emitted again on the next start.
                Assert.Empty(Directory.GetFiles(Spool, "*.event.json"));
                Assert.Single(File.ReadAllLines(Path.Combine(Spool, "finished.log")));
            }
        }

        [Fact]
        public async Task A_repeated_event_id_within_one_body_uses_one_Count_slot()
        {
            using var receiver = Receiver.Start(_host, $"-Port {_port} -Count 2 -SpoolPath '{Spool}'");
            await receiver.WaitUntilListeningAsync(_port);

            foreach (string body in new[] { $"[{WithId("f-a", "ev-a")},{WithId("f-a", "ev-a")}]", WithId("f-b", "ev-b") })
            {
                using HttpResponseMessage answer = await _http.PostAsync(Url, ReceiveWebhookEventTests.Json(body));
                Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            }

            var (output, errors) = receiver.Finish();
            Assert.Empty(errors);
            Assert.Equal(new[] { "f-a", "f-b" }, output.Select(o => ((RegistrationEvent)o.BaseObject).FileId));
        }

        [Fact]
        public void A_spool_folder_that_fails_to_open_for_another_reason_than_a_listener_is_unavailable_not_in_use()
        {
            if (OperatingSystem.IsWindows())
            {
                return; // A symbolic link needs a privilege there; the loop below is the Unix way to make the open fail.
            }

            Directory.CreateDirectory(Spool);
            string lockFile = Path.Combine(Spool, "spool.lock");
            File.CreateSymbolicLink(lockFile, lockFile);

            var (output, errors) = _host.Invoke($"Receive-KalWebhookEvent -Port {_port} -Count 1 -SpoolPath '{Spool}'");

            Assert.Empty(output);
            ErrorRecord error = Assert.Single(errors);
            Assert.Equal("WebhookSpoolUnavailable,Kalbio.PowerShell.Commands.ReceiveKalWebhookEventCommand", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.WriteError, error.CategoryInfo.Category);
            Assert.Contains("symbolic links", error.Exception.Message);
            Assert.DoesNotContain("in use", error.Exception.Message);
        }

        [Fact]
        public void A_spooled_event_s_folder_is_flushed_to_disk_after_its_rename_and_before_Add_returns()
        {
            using WebhookSpool spool = WebhookSpool.Open(Spool);
            var eventsAtSync = new List<string[]>();
            spool.SyncFolder = folder =>
            {
                Assert.Equal(Spool, folder);
                eventsAtSync.Add(Directory.GetFiles(Spool, "*.event.json"));
            };

            SpooledEvent added = spool.Add(Parse(WithId("f-1", "ev-1")))!;

            Assert.Equal(new[] { added.File }, Assert.Single(eventsAtSync));
        }

        [Fact]
        public void Flushing_a_folder_really_opens_it()
        {
            DirectorySync.Flush(_folder);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Throws<IOException>(() => DirectorySync.Flush(Path.Combine(_folder, "missing")));
            }
        }

        [Fact]
        public void An_id_finished_more_than_24_hours_ago_is_new_again_and_leaves_finished_log()
        {
            DateTimeOffset now = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
            using (WebhookSpool spool = WebhookSpool.Open(Spool, () => now))
            {
                spool.CompactEvery = 1;
                spool.Finish(spool.Add(Parse(WithId("f-a", "ev-a")))!);
                spool.Finish(spool.Add(Parse(WithId("f-c", "ev-c")))!);
                Assert.True(spool.IsRepeat("ev-a"));

                now += WebhookSpool.RememberFinished + TimeSpan.FromMinutes(1);

                Assert.False(spool.IsRepeat("ev-a"));
                spool.Finish(spool.Add(Parse(WithId("f-b", "ev-b")))!);
                Assert.NotNull(spool.Add(Parse(WithId("f-a", "ev-a"))));
            }

            string line = Assert.Single(File.ReadAllLines(Path.Combine(Spool, "finished.log")));
            Assert.EndsWith(" " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ev-b")), line);
        }

        [Fact]
        public async Task A_failed_accept_such_as_too_many_open_files_is_survived_and_the_next_delivery_is_answered_202()
        {
            using var direct = new DirectListener(new WebhookListenerOptions());
            int accepts = 0;
            direct.Listener.Accept = listener => Interlocked.Increment(ref accepts) == 1
                ? Task.FromException<TcpClient>(new SocketException((int)SocketError.TooManyOpenSockets))
                : listener.AcceptTcpClientAsync();
            direct.Run();

            using HttpResponseMessage answer = await _http.PostAsync(direct.Url, ReceiveWebhookEventTests.Json(WithId("f-1", "ev-1")));

            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            Assert.Equal(new[] { "f-1" }, direct.Handed);
            Assert.False(direct.Running.IsCompleted);
            Assert.Contains("accept", direct.Log.All);
        }

        [Fact]
        public async Task When_a_later_event_of_a_body_cannot_be_spooled_the_earlier_ones_still_reach_the_pipeline_and_the_retry_adds_only_the_rest()
        {
            using WebhookSpool spool = WebhookSpool.Open(Spool);
            int syncs = 0;
            spool.SyncFolder = folder =>
            {
                if (Interlocked.Increment(ref syncs) == 2)
                {
                    throw new IOException("No space left on device (test)");
                }
            };
            using var direct = new DirectListener(new WebhookListenerOptions { Spool = spool, MaximumEvents = 2 });
            direct.Run();
            string body = $"[{WithId("f-1", "ev-1")},{WithId("f-2", "ev-2")}]";

            using (HttpResponseMessage failed = await _http.PostAsync(direct.Url, ReceiveWebhookEventTests.Json(body)))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            }

            await WaitUntilAsync(() => direct.Handed.Count == 1);
            using (HttpResponseMessage retried = await _http.PostAsync(direct.Url, ReceiveWebhookEventTests.Json(body)))
            {
                Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
            }

            // Both events, once each; then the event limit ends the listener.
            await direct.Running.WaitAsync(Patience);
            Assert.Equal(new[] { "f-1", "f-2" }, direct.Handed);
            Assert.Empty(Directory.GetFiles(Spool, "*.event.json"));
        }

        private static RegistrationEvent Parse(string json) => RegistrationEventReader.Parse(Encoding.UTF8.GetBytes(json)).Single();

        private static X509Certificate2 SelfSigned()
        {
            using RSA key = RSA.Create(2048);
            var request = new CertificateRequest("CN=kalbio-test-listener", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        }

        private static string WithId(string fileId, string eventId) =>
            $"{{\"event_type\":\"registration_submitted\",\"event_id\":\"{eventId}\",\"data\":{{\"operation_id\":\"op-1\",\"file_id\":\"{fileId}\",\"record_ids\":[\"r1\"]}}}}";

        private static async Task WaitUntilAsync(Func<bool> condition)
        {
            DateTime deadline = DateTime.UtcNow + Patience;
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, "The condition did not come true in time.");
                await Task.Delay(20);
            }
        }
        /// <summary>A WebhookListener run directly (no cmdlet) on a free loopback port; its pipeline takes every event at once.</summary>
        private sealed class DirectListener : IDisposable
        {
            private readonly CancellationTokenSource _stop = new CancellationTokenSource();

            public DirectListener(WebhookListenerOptions options)
            {
                options.Port = 0;
                Listener = new WebhookListener(options, Log);
                Listener.Start();
            }

            public WebhookListener Listener { get; }

            public RecordingLog Log { get; } = new RecordingLog();

            public ConcurrentQueue<string> Handed { get; } = new ConcurrentQueue<string>();

            public Task Running { get; private set; } = Task.CompletedTask;

            public string Url => $"http://127.0.0.1:{Listener.LocalEndpoint!.Port}/";

            public void Run() => Running = Listener.RunAsync(
                handoff =>
                {
                    if (handoff.TryStartWriting())
                    {
                        Handed.Enqueue(handoff.Item.FileId);
                        handoff.Written();
                    }
                },
                _ => { },
                _stop.Token);

            public void Dispose()
            {
                _stop.Cancel();
                try
                {
                    Running.Wait(Patience);
                }
                catch (AggregateException)
                {
                    // Cancelled, as asked.
                }

                Listener.Dispose();
                _stop.Dispose();
            }
        }
    }

    /// <summary>
    /// A downstream command that returns normally as soon as a stop of its pipeline is asked for, before PowerShell
    /// stops any command, and holds the stopping thread until it has returned and the listener has had time to act.
    /// </summary>
    [Cmdlet("Return", "TestOnStopRequest")]
    public sealed class ReturnTestOnStopRequestCommand : PSCmdlet, IDisposable
    {
        internal static readonly SemaphoreSlim Holding = new SemaphoreSlim(0);

        private static readonly TimeSpan ActTime = TimeSpan.FromMilliseconds(500);

        private readonly ManualResetEventSlim _stopAsked = new ManualResetEventSlim();
        private readonly ManualResetEventSlim _returned = new ManualResetEventSlim();

        [Parameter(ValueFromPipeline = true)]
        public object? InputObject { get; set; }

        protected override void ProcessRecord()
        {
            const BindingFlags Internal = BindingFlags.Instance | BindingFlags.NonPublic;
            object processor = CommandRuntime.GetType().GetProperty("PipelineProcessor", Internal)!.GetValue(CommandRuntime)!;
            var pipeline = (Pipeline)processor.GetType().GetProperty("LocalPipeline", Internal)!.GetValue(processor)!;
            pipeline.StateChanged += (_, e) =>
            {
                // Raised on the stopping thread before it stops any command.
                if (e.PipelineStateInfo.State == PipelineState.Stopping)
                {
                    _stopAsked.Set();
                    _returned.Wait(TimeSpan.FromSeconds(30));
                    Thread.Sleep(ActTime);
                }
            };

            Holding.Release();
            _stopAsked.Wait();
            _returned.Set();
        }

        public void Dispose()
        {
            _stopAsked.Dispose();
            _returned.Dispose();
        }
    }

    /// <summary>A downstream command that holds each item until Ctrl+C and then returns normally, as Start-Sleep does.</summary>
    [Cmdlet("Wait", "TestStop")]
    public sealed class WaitTestStopCommand : PSCmdlet, IDisposable
    {
        internal static readonly SemaphoreSlim Holding = new SemaphoreSlim(0);

        private readonly ManualResetEventSlim _stopped = new ManualResetEventSlim();

        [Parameter(ValueFromPipeline = true)]
        public object? InputObject { get; set; }

        protected override void ProcessRecord()
        {
            Holding.Release();
            _stopped.Wait();
        }

        protected override void StopProcessing() => _stopped.Set();

        public void Dispose() => _stopped.Dispose();
    }
}
