using System;
using System.Net;
using System.Net.Http;
using Kalbio.Core.Http;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>How a response's Retry-After header is read into a wait: seconds as given, an HTTP date against the clock.</summary>
    public sealed class RetryPolicyTests
    {
        private static readonly DateTimeOffset Now = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

        private static TimeSpan? RetryAfter(string? header)
        {
            using var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
            if (header != null)
            {
                response.Headers.TryAddWithoutValidation("Retry-After", header);
            }

            return RetryPolicy.ParseRetryAfter(response, Now);
        }

        [Fact]
        public void Without_a_Retry_After_header_there_is_no_wait_asked() =>
            Assert.Null(RetryAfter(null));

        [Theory]
        [InlineData("7", 7)]
        [InlineData("0", 0)]
        [InlineData("120", 120)]
        public void Retry_After_in_seconds_is_the_wait_asked(string header, int seconds) =>
            Assert.Equal(TimeSpan.FromSeconds(seconds), RetryAfter(header));

        [Fact]
        public void Retry_After_as_a_date_is_the_time_left_until_that_date_by_the_connection_s_clock() =>
            Assert.Equal(TimeSpan.FromSeconds(90), RetryAfter("Sun, 01 Mar 2026 12:01:30 GMT"));

        [Theory]
        [InlineData("Sun, 01 Mar 2026 11:59:00 GMT")]
        [InlineData("Sun, 01 Mar 2026 12:00:00 GMT")]
        public void Retry_After_as_a_date_already_reached_asks_for_no_wait(string header) =>
            Assert.Equal(TimeSpan.Zero, RetryAfter(header));

        [Theory]
        [InlineData("soon")]
        [InlineData("-5")]
        public void An_unreadable_Retry_After_is_taken_as_no_wait_asked(string header) =>
            Assert.Null(RetryAfter(header));
    }
}
