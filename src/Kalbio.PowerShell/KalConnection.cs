using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.Core.Http;

namespace Kalbio.PowerShell.Client
{
    /// <summary>
    /// A connection to one Kaleidoscope tenant: one HttpClient, one token state, shared by every cmdlet and runspace
    /// that uses it. Its public surface shows who and where, never the secret or a token.
    /// </summary>
    /// <remarks>
    /// The PowerShell-facing handle (what Connect-KalApi returns and -Connection takes; the published type name is
    /// 0.1's): the work is done by the core's <see cref="KalClient"/>.
    /// </remarks>
    public sealed class KalConnection : IDisposable
    {
        internal KalConnection(KalConnectionOptions options)
        {
            Client = new KalClient(options);
            ConnectedAt = DateTimeOffset.Now;
        }

        public Uri BaseUri => Client.Options.BaseUri;

        public string ClientId => Client.Options.ClientId;

        /// <summary>When the current access token expires (local time); empty until the first token is obtained.</summary>
        public DateTimeOffset? TokenExpiresAt => Client.Tokens.ExpiresAt?.ToLocalTime();

        public int TimeoutSec => (int)Math.Ceiling(Client.Options.Timeout.TotalSeconds);

        public int MaximumRetryCount => Client.Options.MaximumRetryCount;

        public double RetryIntervalSec => Client.Options.RetryInterval.TotalSeconds;

        public bool SkipCertificateCheck => Client.Options.SkipCertificateCheck;

        /// <summary>The names of the additional headers; their values may be credentials, so they are not shown.</summary>
        public string[] AdditionalHeaderNames => Client.Options.AdditionalHeaders.Select(h => h.Key).ToArray();

        public DateTimeOffset ConnectedAt { get; }

        internal KalClient Client { get; }

        /// <summary>Obtains the first token now, so wrong credentials or a wrong address fail here and not at first use.</summary>
        internal Task ConnectAsync(IKalLog log, CancellationToken cancellation) => Client.ConnectAsync(log, cancellation);

        public override string ToString() => $"{ClientId} @ {BaseUri}";

        public void Dispose() => Client.Dispose();
    }
}
