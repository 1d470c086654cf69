using System;
using System.Collections.Generic;
using System.Net.Http;

namespace Kalbio.Core.Http
{
    /// <summary>When a failed attempt may be sent again.</summary>
    internal enum RetryMode
    {
        /// <summary>Safe to repeat (GET, token grants): network errors, timeouts, 408, 429 and 5xx are retried.</summary>
        Idempotent,

        /// <summary>
        /// Must not be applied twice (results POST): retried only when the server cannot have processed it:
        /// 429 or 503, or a connection that was never established.
        /// </summary>
        OnlyIfNotProcessed,
    }

    /// <summary>One logical request; each attempt builds a fresh <see cref="HttpRequestMessage"/> from it.</summary>
    internal sealed class KalRequest
    {
        public KalRequest(HttpMethod method, Uri uri)
        {
            Method = method;
            Uri = uri;
            RetryMode = method == HttpMethod.Get || method == HttpMethod.Head ? RetryMode.Idempotent : RetryMode.OnlyIfNotProcessed;
        }

        public HttpMethod Method { get; }

        public Uri Uri { get; }

        public RetryMode RetryMode { get; set; }

        /// <summary>Creates the body for one attempt; called again for every retry, so it must be repeatable.</summary>
        public Func<HttpContent>? CreateContent { get; set; }

        /// <summary>The body as text for -Debug (after redaction); null when it is too large or binary.</summary>
        public Func<string?>? DescribeContent { get; set; }

        /// <summary>False only for the token endpoint, which is how the token is obtained.</summary>
        public bool Authenticate { get; set; } = true;

        public IList<KeyValuePair<string, string>> Headers { get; } = new List<KeyValuePair<string, string>>();
    }
}
