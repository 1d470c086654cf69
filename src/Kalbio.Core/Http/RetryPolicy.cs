using System;
using System.Net.Http;
using System.Net.Http.Headers;

namespace Kalbio.Core.Http
{
    /// <summary>Decides which failures are worth another attempt and how long to wait before it.</summary>
    internal sealed class RetryPolicy
    {
        private readonly KalConnectionOptions _options;

        public RetryPolicy(KalConnectionOptions options) => _options = options;

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

        /// <summary>The wait before retry number <paramref name="retry"/> (1-based): Retry-After when given, else doubling back-off.</summary>
        public TimeSpan Delay(int retry, TimeSpan? retryAfter)
        {
            TimeSpan delay = retryAfter ?? TimeSpan.FromTicks(_options.RetryInterval.Ticks * (1L << Math.Min(retry - 1, 20)));
            if (delay < TimeSpan.Zero)
            {
                delay = TimeSpan.Zero;
            }

            return delay > _options.MaximumRetryDelay ? _options.MaximumRetryDelay : delay;
        }

        public static TimeSpan? ParseRetryAfter(HttpResponseMessage response)
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
                TimeSpan wait = date - DateTimeOffset.UtcNow;
                return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
            }

            return null;
        }
    }
}
