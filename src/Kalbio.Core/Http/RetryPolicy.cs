using System;
using System.Net.Http;
using System.Net.Http.Headers;

namespace Kalbio.Core.Http
{
    /// <summary>What went wrong below HTTP, as far as sending again is concerned.</summary>
    internal enum TransportFault
    {
        /// <summary>No connection was made (refused, host not found, unreachable): the server cannot have seen the request.</summary>
        NotConnected,

        /// <summary>The server's TLS certificate was not accepted: sending again cannot fix a certificate.</summary>
        CertificateRefused,

        /// <summary>The server sent nothing for the request's timeout.</summary>
        TimedOut,

        /// <summary>The connection failed once made, or broke off (or ended short) while the body was read.</summary>
        ConnectionFailed,
    }

    /// <summary>Decides which failures are worth another attempt and how long to wait before it.</summary>
    internal sealed class RetryPolicy
    {
        /// <summary>A back-off delay is spread by up to this fraction either way, so clients that failed together do not retry together.</summary>
        public const double JitterFraction = 0.2;

        private static readonly Random SharedRandom = new Random();
        private readonly KalConnectionOptions _options;
        private readonly Func<double> _random;

        /// <param name="options">The connection's retry settings.</param>
        /// <param name="random">A source of numbers in [0, 1) for the jitter; tests pin it.</param>
        public RetryPolicy(KalConnectionOptions options, Func<double>? random = null)
        {
            _options = options;
            _random = random ?? NextShared;
        }

        public int MaximumRetryCount => _options.MaximumRetryCount;

        public static bool IsRetriableStatus(int status, RetryMode mode)
        {
            if (mode == RetryMode.OnlyIfNotProcessed)
            {
                // Both say "not now" before the request was acted on; anything else may have been applied.
                return status == 429 || status == 503;
            }

            return status == 408 || status == 429 || (status >= 500 && status != 501 && status != 505);
        }

        public static bool IsRetriable(TransportFault fault, RetryMode mode) =>
            mode == RetryMode.Idempotent ? fault != TransportFault.CertificateRefused : fault == TransportFault.NotConnected;

        /// <summary>
        /// The wait before retry number <paramref name="retry"/> (1-based): the server's Retry-After as it asks, else a
        /// doubling back-off with jitter; never more than the connection's maximum delay.
        /// </summary>
        public TimeSpan Delay(int retry, TimeSpan? retryAfter)
        {
            if (retryAfter is TimeSpan asked)
            {
                // The server said when; jitter would either undercut it or wait past what was asked.
                return Capped(asked);
            }

            TimeSpan backOff = Capped(TimeSpan.FromTicks(_options.RetryInterval.Ticks * (1L << Math.Min(retry - 1, 20))));
            double factor = 1 + (JitterFraction * ((2 * _random()) - 1));
            return Capped(TimeSpan.FromTicks((long)Math.Round(backOff.Ticks * factor)));
        }

        public static TimeSpan? ParseRetryAfter(HttpResponseMessage response, DateTimeOffset now)
        {
            RetryConditionHeaderValue? header = response.Headers.RetryAfter;
            if (header is null)
            {
                return null;
            }

            if (header.Delta is TimeSpan delta)
            {
                return delta;
            }

            if (header.Date is DateTimeOffset date)
            {
                return TimeSpan.FromTicks(Math.Max(0, (date - now).Ticks));
            }

            return null;
        }

        private TimeSpan Capped(TimeSpan delay) => TimeSpan.FromTicks(Math.Max(0, Math.Min(delay.Ticks, _options.MaximumRetryDelay.Ticks)));

        private static double NextShared()
        {
            lock (SharedRandom)
            {
                return SharedRandom.NextDouble();
            }
        }
    }
}
