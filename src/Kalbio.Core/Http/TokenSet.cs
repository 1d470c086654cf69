using System;

namespace Kalbio.Core.Http
{
    /// <summary>One token grant's result. Immutable, so readers never see a half-updated pair.</summary>
    internal sealed class TokenSet
    {
        // The official client renews 10 minutes ahead; short-lived tokens are renewed at half their life instead.
        private static readonly TimeSpan RenewAhead = TimeSpan.FromMinutes(10);

        public TokenSet(string accessToken, string? refreshToken, DateTimeOffset issuedAt, TimeSpan lifetime)
        {
            AccessToken = accessToken;
            RefreshToken = refreshToken;
            IssuedAt = issuedAt;
            ExpiresAt = issuedAt + lifetime;
            TimeSpan ahead = TimeSpan.FromTicks(Math.Min(RenewAhead.Ticks, lifetime.Ticks / 2));
            RenewAt = ExpiresAt - ahead;
        }

        public string AccessToken { get; }

        public string? RefreshToken { get; }

        public DateTimeOffset IssuedAt { get; }

        public DateTimeOffset ExpiresAt { get; }

        public DateTimeOffset RenewAt { get; }

        public bool IsDue(DateTimeOffset now) => now >= RenewAt;
    }
}
