using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// How an attempt's outcome is classified by the code that sees it, against the sandbox: the body reader reports a
    /// body that broke off or stalled (and the loop sends again), an error of the reader's sink ends the request as it
    /// is, and the loop waits the policy's jittered back-off.
    /// </summary>
    public sealed class AttemptOutcomeTests : IClassFixture<SandboxFixture>
    {
        private const int FileLength = 1024 * 1024;

        private readonly SandboxFixture _sandbox;

        public AttemptOutcomeTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
            _sandbox.State.SeedFile(new SeedFileRequest { FileId = "data", GeneratedSize = FileLength, Seed = 3 });
        }

        private async Task<KalConnection> Connected(Action<KalConnectionOptions>? configure = null)
        {
            KalConnection connection = TestConnections.To(_sandbox, configure);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            return connection;
        }

        /// <summary>Downloads "data" into nothing, keeping each attempt's read.</summary>
        private static Task<long> Download(KalConnection connection, ConcurrentQueue<BodyRead> reads, Action<byte[], int, int>? sink = null) =>
            connection.Client.Http.SendAndReadAsync(
                new KalRequest(HttpMethod.Get, FilesApi.SourceUri(connection.Client, "data", null, null)),
                async (response, timeout) =>
                {
                    BodyRead read = await ResponseBody.CopyToAsync(response, timeout, sink ?? ((buffer, offset, count) => { }));
                    reads.Enqueue(read);
                    return BodyOutcome.Of(read, read.BytesReceived);
                },
                NullKalLog.Instance,
                CancellationToken.None);

        [Fact]
        public async Task A_body_that_breaks_off_is_reported_by_the_reader_and_fetched_again()
        {
            using KalConnection connection = await Connected();
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/data", DropAfterBytes = FileLength / 2 });
            var reads = new ConcurrentQueue<BodyRead>();

            long length = await Download(connection, reads);

            Assert.Equal(FileLength, length);
            BodyRead[] attempts = reads.ToArray();
            Assert.Equal(2, attempts.Length);
            Assert.Equal(BodyReadResult.BrokenOff, attempts[0].Result);
            Assert.True(attempts[0].BytesReceived < FileLength, $"{attempts[0].BytesReceived} bytes before the break");
            Assert.Equal(FileLength, attempts[0].BytesExpected);
            Assert.NotNull(attempts[0].Cause);
            Assert.Equal(BodyReadResult.Complete, attempts[1].Result);
        }

        [Fact]
        public async Task A_body_that_stalls_past_the_timeout_is_a_timed_out_read_and_is_fetched_again()
        {
            using KalConnection connection = await Connected(o => o.Timeout = TimeSpan.FromSeconds(2));
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/data", StallAfterBytes = FileLength / 4 });
            var reads = new ConcurrentQueue<BodyRead>();

            long length = await Download(connection, reads);

            Assert.Equal(FileLength, length);
            Assert.Equal(new[] { BodyReadResult.TimedOut, BodyReadResult.Complete }, reads.Select(r => r.Result));
        }

        [Fact]
        public async Task A_body_that_stalls_on_every_attempt_ends_in_a_timeout_error_after_every_attempt()
        {
            using KalConnection connection = await Connected(o =>
            {
                o.Timeout = TimeSpan.FromSeconds(2);
                o.MaximumRetryCount = 1;
            });
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/data", StallAfterBytes = FileLength / 4, Times = 5 });
            var reads = new ConcurrentQueue<BodyRead>();

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Download(connection, reads));

            Assert.Equal(KalErrorKind.Timeout, failure.Kind);
            Assert.Equal(2, failure.Attempts);
            Assert.Contains("GET /files/data timed out", failure.Message);
            Assert.Equal(new[] { BodyReadResult.TimedOut, BodyReadResult.TimedOut }, reads.Select(r => r.Result));
        }

        [Fact]
        public async Task An_error_of_the_sink_such_as_a_full_disk_ends_the_request_at_once_as_it_is()
        {
            using KalConnection connection = await Connected();
            var reads = new ConcurrentQueue<BodyRead>();
            var full = new IOException("No space left on device");

            IOException thrown = await Assert.ThrowsAsync<IOException>(() => Download(connection, reads, (buffer, offset, count) => throw full));

            Assert.Same(full, thrown);
            Assert.Single(_sandbox.ApiRequests());
            Assert.Empty(reads);
        }

        [Fact]
        public async Task A_body_shorter_than_its_Content_Length_is_reported_as_truncated()
        {
            using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new ByteArrayContent(new byte[10]) };
            response.Content.Headers.ContentLength = 25;
            using var timeout = new RequestTimeout(TimeSpan.FromSeconds(30), CancellationToken.None);
            long sunk = 0;

            BodyRead read = await ResponseBody.CopyToAsync(response, timeout, (buffer, offset, count) => sunk += count);

            Assert.Equal(BodyReadResult.Truncated, read.Result);
            Assert.Equal(10, read.BytesReceived);
            Assert.Equal(25, read.BytesExpected);
            Assert.Equal(10, sunk);
        }

        [Theory]
        [InlineData(0.0, "in 0.08 s.")]
        [InlineData(1.0, "in 0.12 s.")]
        public async Task The_loop_waits_the_policy_s_jittered_back_off(double random, string expected)
        {
            // Built by hand, as KalConnection builds it, to pin the jitter: the sender first, then the token
            // manager's own pipeline, then the API pipeline; nothing is attached afterwards.
            using KalConnection template = TestConnections.To(_sandbox);
            KalConnectionOptions options = template.Client.Options;
            options.RetryInterval = TimeSpan.FromMilliseconds(100);
            var redactor = new Redactor();
            using var sender = new HttpSender(options, redactor);
            var retry = new RetryPolicy(options, () => random);
            var tokens = new TokenManager(new KalHttpPipeline(sender, retry, tokens: null), options, redactor);
            var pipeline = new KalHttpPipeline(sender, retry, tokens);
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/operations/", Status = 503 });
            var log = new RecordingLog();

            string body = await pipeline.SendForTextAsync(new KalRequest(HttpMethod.Get, new Uri(options.BaseUri, "operations/op-1/registrations")), log, CancellationToken.None);

            Assert.Equal("[]", body.Trim());
            Assert.Contains("GET /operations/op-1/registrations: 503 Service Unavailable; retry 1 of 3 " + expected, log.All);
            Assert.Equal(new[] { 503, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
        }
    }
}
