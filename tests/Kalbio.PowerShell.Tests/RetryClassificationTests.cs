using System;
using System.Linq;
using Kalbio.Core.Http;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The classification the retry loop decides from: which statuses and transport faults are sent again for each
    /// <see cref="RetryMode"/>, and the wait before each retry (Retry-After as asked, else doubling back-off with
    /// jitter, both capped). The jitter's random source is pinned.
    /// </summary>
    public sealed class RetryClassificationTests
    {
        private static RetryPolicy Policy(Func<double>? random, double intervalSeconds = 1, double capSeconds = 60) =>
            new RetryPolicy(
                new KalConnectionOptions { RetryInterval = TimeSpan.FromSeconds(intervalSeconds), MaximumRetryDelay = TimeSpan.FromSeconds(capSeconds) },
                random);

        [Theory]
        [InlineData(408, true)]
        [InlineData(429, true)]
        [InlineData(500, true)]
        [InlineData(502, true)]
        [InlineData(503, true)]
        [InlineData(504, true)]
        [InlineData(501, false)]
        [InlineData(505, false)]
        [InlineData(400, false)]
        [InlineData(401, false)]
        [InlineData(403, false)]
        [InlineData(404, false)]
        [InlineData(409, false)]
        [InlineData(422, false)]
        public void A_read_retries_408_429_and_5xx_except_501_and_505(int status, bool retried) =>
            Assert.Equal(retried, RetryPolicy.IsRetriableStatus(status, RetryMode.Idempotent));

        [Theory]
        [InlineData(429, true)]
        [InlineData(503, true)]
        [InlineData(408, false)]
        [InlineData(500, false)]
        [InlineData(502, false)]
        [InlineData(504, false)]
        [InlineData(400, false)]
        public void A_write_retries_only_the_statuses_that_say_it_was_not_processed(int status, bool retried) =>
            Assert.Equal(retried, RetryPolicy.IsRetriableStatus(status, RetryMode.OnlyIfNotProcessed));

        [Theory]
        [InlineData("NotConnected", "Idempotent", true)]
        [InlineData("TimedOut", "Idempotent", true)]
        [InlineData("ConnectionFailed", "Idempotent", true)]
        [InlineData("CertificateRefused", "Idempotent", false)]
        [InlineData("NotConnected", "OnlyIfNotProcessed", true)]
        [InlineData("TimedOut", "OnlyIfNotProcessed", false)]
        [InlineData("ConnectionFailed", "OnlyIfNotProcessed", false)]
        [InlineData("CertificateRefused", "OnlyIfNotProcessed", false)]
        public void A_transport_fault_is_retried_only_when_sending_again_is_safe_and_can_help(string fault, string mode, bool retried) =>
            Assert.Equal(retried, RetryPolicy.IsRetriable(Enum.Parse<TransportFault>(fault), Enum.Parse<RetryMode>(mode)));

        [Theory]
        [InlineData(0.0)]
        [InlineData(0.5)]
        [InlineData(0.999999)]
        public void Retry_After_is_waited_exactly_as_asked_whatever_the_jitter(double random)
        {
            RetryPolicy policy = Policy(() => random);

            Assert.Equal(TimeSpan.FromSeconds(7), policy.Delay(1, TimeSpan.FromSeconds(7)));
            Assert.Equal(TimeSpan.FromSeconds(7), policy.Delay(3, TimeSpan.FromSeconds(7)));
            Assert.Equal(TimeSpan.Zero, policy.Delay(1, TimeSpan.Zero));
        }

        [Fact]
        public void Retry_After_beyond_the_cap_waits_only_the_cap_and_a_negative_one_not_at_all()
        {
            RetryPolicy policy = Policy(() => 0.999999, capSeconds: 60);

            Assert.Equal(TimeSpan.FromSeconds(60), policy.Delay(1, TimeSpan.FromHours(1)));
            Assert.Equal(TimeSpan.Zero, policy.Delay(1, TimeSpan.FromSeconds(-5)));
        }

        [Fact]
        public void Without_Retry_After_the_back_off_doubles_from_the_interval()
        {
            RetryPolicy policy = Policy(() => 0.5, intervalSeconds: 1);

            Assert.Equal(
                new[] { 1.0, 2.0, 4.0, 8.0, 16.0 },
                Enumerable.Range(1, 5).Select(retry => policy.Delay(retry, null).TotalSeconds));
        }

        [Fact]
        public void Jitter_spreads_the_back_off_by_at_most_a_fifth_either_way()
        {
            Assert.Equal(TimeSpan.FromSeconds(3.2), Policy(() => 0.0, intervalSeconds: 2).Delay(2, null));
            Assert.Equal(TimeSpan.FromSeconds(4.8), Policy(() => 1.0, intervalSeconds: 2).Delay(2, null));
            Assert.Equal(TimeSpan.FromSeconds(4.4), Policy(() => 0.75, intervalSeconds: 2).Delay(2, null));
        }

        [Fact]
        public void The_capped_back_off_is_spread_below_the_cap_and_never_beyond_it()
        {
            Assert.Equal(TimeSpan.FromSeconds(10), Policy(() => 1.0, intervalSeconds: 1, capSeconds: 10).Delay(8, null));
            Assert.Equal(TimeSpan.FromSeconds(8), Policy(() => 0.0, intervalSeconds: 1, capSeconds: 10).Delay(8, null));
            Assert.Equal(TimeSpan.FromSeconds(10), Policy(() => 1.0, intervalSeconds: 1, capSeconds: 10).Delay(40, null));
        }

        [Fact]
        public void The_default_random_source_keeps_every_delay_within_the_bounds_and_spreads_them()
        {
            RetryPolicy policy = Policy(random: null, intervalSeconds: 1);

            double[] delays = Enumerable.Range(0, 1000).Select(_ => policy.Delay(3, null).TotalSeconds).ToArray();

            Assert.All(delays, d => Assert.InRange(d, 3.2, 4.8));
            // 1,000 draws from a continuous spread: many distinct values, on both sides of the undisturbed 4 s.
            Assert.True(delays.Distinct().Count() > 100, $"only {delays.Distinct().Count()} distinct delays");
            Assert.Contains(delays, d => d < 4.0);
            Assert.Contains(delays, d => d > 4.0);
        }
    }
}
