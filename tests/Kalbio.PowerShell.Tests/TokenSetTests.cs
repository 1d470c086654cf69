using System;
using Kalbio.Core.Http;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>When a token is due for renewal: 10 minutes ahead of expiry, or at half its life when it lives under 20 minutes.</summary>
    public sealed class TokenSetTests
    {
        private static readonly DateTimeOffset Issued = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

        [Fact]
        public void A_token_expires_its_lifetime_after_it_was_requested()
        {
            var tokens = new TokenSet("access-token", "refresh-token", Issued, TimeSpan.FromSeconds(3600));

            Assert.Equal(Issued, tokens.IssuedAt);
            Assert.Equal(Issued.AddHours(1), tokens.ExpiresAt);
        }

        [Fact]
        public void An_hour_long_token_is_due_ten_minutes_before_it_expires_not_at_half_its_life()
        {
            var tokens = new TokenSet("access-token", "refresh-token", Issued, TimeSpan.FromHours(1));

            Assert.Equal(Issued.AddMinutes(50), tokens.RenewAt);
            Assert.False(tokens.IsDue(Issued.AddMinutes(30)));
            Assert.False(tokens.IsDue(Issued.AddMinutes(50).AddTicks(-1)));
        }

        [Fact]
        public void A_token_is_due_from_the_very_instant_of_its_renewal_time()
        {
            var tokens = new TokenSet("access-token", null, Issued, TimeSpan.FromHours(1));

            Assert.True(tokens.IsDue(tokens.RenewAt));
            Assert.True(tokens.IsDue(tokens.ExpiresAt.AddMinutes(1)));
        }

        [Theory]
        [InlineData(7200, 6600)]
        [InlineData(1201, 601)]
        [InlineData(1200, 600)]
        [InlineData(1199, 599.5)]
        [InlineData(600, 300)]
        [InlineData(60, 30)]
        public void A_token_is_due_ten_minutes_before_it_expires_or_at_half_its_life_when_that_is_sooner(double lifetimeSeconds, double dueAfterSeconds)
        {
            var tokens = new TokenSet("access-token", null, Issued, TimeSpan.FromSeconds(lifetimeSeconds));

            Assert.Equal(Issued.AddSeconds(dueAfterSeconds), tokens.RenewAt);
        }
    }
}
