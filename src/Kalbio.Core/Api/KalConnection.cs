using System;
using System.Collections.Generic;
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
    public sealed class KalConnection : IDisposable
    {
        private static readonly HashSet<string> ReservedHeaders = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "X-Kal-Authorization", "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection",
        };

        private readonly HttpSender _sender;

        internal KalConnection(KalConnectionOptions options)
        {
            Validate(options);
            Options = options;
            Redactor = new Redactor();
            Redactor.Pin(options.ClientSecret);
            foreach (KeyValuePair<string, string> header in options.AdditionalHeaders)
            {
                Redactor.Pin(header.Value);
                // A server may echo the credentials of "Bearer <token>" without the scheme.
                int space = header.Value.LastIndexOf(' ');
                if (space > 0 && Redactor.IsSecretHeader(header.Key))
                {
                    Redactor.Pin(header.Value.Substring(space + 1));
                }
            }

            _sender = new HttpSender(options, Redactor);
            var retry = new RetryPolicy(options);
            Tokens = new TokenManager(new KalHttpPipeline(_sender, retry, tokens: null), options, Redactor);
            Http = new KalHttpPipeline(_sender, retry, Tokens);
            Client = new KalClient(Options, Http, Tokens, Redactor);
            ConnectedAt = DateTimeOffset.Now;
        }

        public Uri BaseUri => Options.BaseUri;

        public string ClientId => Options.ClientId;

        /// <summary>When the current access token expires (local time); empty until the first token is obtained.</summary>
        public DateTimeOffset? TokenExpiresAt => Tokens.ExpiresAt?.ToLocalTime();

        public int TimeoutSec => (int)Math.Ceiling(Options.Timeout.TotalSeconds);

        public int MaximumRetryCount => Options.MaximumRetryCount;

        public double RetryIntervalSec => Options.RetryInterval.TotalSeconds;

        public bool SkipCertificateCheck => Options.SkipCertificateCheck;

        /// <summary>The names of the additional headers; their values may be credentials, so they are not shown.</summary>
        public string[] AdditionalHeaderNames => Options.AdditionalHeaders.Select(h => h.Key).ToArray();

        public DateTimeOffset ConnectedAt { get; }

        internal KalConnectionOptions Options { get; }

        internal KalHttpPipeline Http { get; }

        internal TokenManager Tokens { get; }

        internal Redactor Redactor { get; }

        /// <summary>The operations the cmdlets call on this connection (a stateless view of its pipeline and tokens).</summary>
        internal KalClient Client { get; }

        internal Task ConnectAsync(IKalLog log, CancellationToken cancellation) => Client.ConnectAsync(log, cancellation);

        internal Uri ApiUri(string relativePath) => Client.ApiUri(relativePath);

        public override string ToString() => $"{ClientId} @ {BaseUri}";

        public void Dispose() => _sender.Dispose();

        private static void Validate(KalConnectionOptions options)
        {
            if (string.IsNullOrWhiteSpace(options.ClientId))
            {
                throw new KalInputException("MissingClientId", "The client id is empty.", "ClientId");
            }

            if (options.ClientId.Any(char.IsControl))
            {
                throw new KalInputException("InvalidClientId", "The client id contains a control character (such as a line break). Give the client id exactly as issued.", "ClientId");
            }

            if (string.IsNullOrEmpty(options.ClientSecret))
            {
                throw new KalInputException("MissingClientSecret", $"No client secret was given for client id '{options.ClientId}'.", "ClientSecret");
            }

            if (options.Timeout <= TimeSpan.Zero)
            {
                throw new KalInputException("InvalidTimeout", "The timeout must be at least one second.", "TimeoutSec");
            }

            if (options.MaximumRetryCount < 0)
            {
                throw new KalInputException("InvalidRetryCount", "The maximum retry count cannot be negative.", "MaximumRetryCount");
            }

            foreach (KeyValuePair<string, string> header in options.AdditionalHeaders)
            {
                if (string.IsNullOrWhiteSpace(header.Key) || header.Key.Any(c => c <= ' ' || c == ':' || c > '~'))
                {
                    throw new KalInputException("InvalidAdditionalHeader", $"'{header.Key}' is not a valid HTTP header name. Use names such as 'Authorization' or 'X-Request-Source'.", "AdditionalHeader", header.Key);
                }

                if (ReservedHeaders.Contains(header.Key))
                {
                    throw new KalInputException("InvalidAdditionalHeader", $"The header '{header.Key}' is set by the module itself and cannot be given as an additional header.", "AdditionalHeader", header.Key);
                }

                if (header.Value is null || header.Value.Any(c => c == '\r' || c == '\n' || c == '\0'))
                {
                    throw new KalInputException("InvalidAdditionalHeader", $"The value of header '{header.Key}' is empty or contains a line break or NUL.", "AdditionalHeader", header.Key);
                }
            }
        }
    }
}
