using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
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
            Assert.True(new Client.WebhookListenerOptions { Address = IPAddress.Any }.TravelsInClear);
            Assert.True(new Client.WebhookListenerOptions { Address = IPAddress.IPv6Any }.TravelsInClear);
            Assert.False(new Client.WebhookListenerOptions { Address = IPAddress.Any, Certificate = certificate }.TravelsInClear);
            Assert.False(new Client.WebhookListenerOptions { Address = IPAddress.Loopback }.TravelsInClear);
            Assert.False(new Client.WebhookListenerOptions { Address = IPAddress.IPv6Loopback }.TravelsInClear);
        }

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
    }
}
