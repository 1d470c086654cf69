using System;
using System.Collections.Generic;
using System.Linq;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Http
{
    /// <summary>Everything needed to open a connection. Validated by <see cref="KalConnection"/>'s constructor.</summary>
    internal sealed class KalConnectionOptions
    {
        private static readonly HashSet<string> ReservedHeaders = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "X-Kal-Authorization", "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection",
        };

        public const string DefaultBaseUri = "https://api.kaleidoscope.bio";
        public const string ClientIdVariable = "KALEIDOSCOPE_API_CLIENT_ID";
        public const string ClientSecretVariable = "KALEIDOSCOPE_API_CLIENT_SECRET";
        public const string BaseUriVariable = "KALEIDOSCOPE_API_URL";

        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(100);
        public const int DefaultMaximumRetryCount = 3;
        public static readonly TimeSpan DefaultRetryInterval = TimeSpan.FromSeconds(1);

        public Uri BaseUri { get; set; } = new Uri(DefaultBaseUri);

        /// <summary>Where <see cref="BaseUri"/> came from, so a failure to reach it can say so.</summary>
        public BaseUriSource BaseUriSource { get; set; } = BaseUriSource.Default;

        /// <summary>How the caller names what it took an explicit base URI from (a cmdlet: its parameter), for messages.</summary>
        public string? BaseUriGivenAs { get; set; }

        public string ClientId { get; set; } = string.Empty;

        public string ClientSecret { get; set; } = string.Empty;

        /// <summary>Sent with every request to the API host, the token request included (e.g. an identity-aware proxy's Authorization).</summary>
        public IList<KeyValuePair<string, string>> AdditionalHeaders { get; } = new List<KeyValuePair<string, string>>();

        public bool SkipCertificateCheck { get; set; }

        /// <summary>How long a request may wait for the response headers, and for each read of the body.</summary>
        public TimeSpan Timeout { get; set; } = DefaultTimeout;

        public int MaximumRetryCount { get; set; } = DefaultMaximumRetryCount;

        /// <summary>The first back-off delay; it doubles with each retry unless the server says Retry-After.</summary>
        public TimeSpan RetryInterval { get; set; } = DefaultRetryInterval;

        /// <summary>The longest wait honoured from a Retry-After header or the back-off.</summary>
        public TimeSpan MaximumRetryDelay { get; set; } = TimeSpan.FromSeconds(60);

        public string UserAgent { get; set; } = "Kalbio.PowerShell";

        /// <summary>The clock token lifetimes and Retry-After dates are measured against; tests move it instead of sleeping.</summary>
        public Func<DateTimeOffset> UtcNow { get; set; } = () => DateTimeOffset.UtcNow;

        /// <summary>What a careful user should be told about these options before they are used.</summary>
        public IEnumerable<SecurityRisk> SecurityRisks()
        {
            if (SkipCertificateCheck)
            {
                yield return SecurityRisk.CertificateNotChecked;
            }

            if (BaseUri.Scheme == Uri.UriSchemeHttp && !BaseUri.IsLoopback)
            {
                yield return SecurityRisk.PlainHttp;
            }
        }

        /// <summary>
        /// Options from KALEIDOSCOPE_API_CLIENT_ID, KALEIDOSCOPE_API_CLIENT_SECRET and KALEIDOSCOPE_API_URL; null when
        /// neither credential variable is set, IncompleteEnvironmentCredentials when only one is.
        /// </summary>
        public static KalConnectionOptions? FromEnvironment()
        {
            string? clientId = Environment.GetEnvironmentVariable(ClientIdVariable);
            string? clientSecret = Environment.GetEnvironmentVariable(ClientSecretVariable);
            if (string.IsNullOrEmpty(clientId) && string.IsNullOrEmpty(clientSecret))
            {
                return null;
            }

            if (string.IsNullOrEmpty(clientId) || string.IsNullOrEmpty(clientSecret))
            {
                string missing = string.IsNullOrEmpty(clientId) ? ClientIdVariable : ClientSecretVariable;
                string present = string.IsNullOrEmpty(clientId) ? ClientSecretVariable : ClientIdVariable;
                throw new KalInputException("IncompleteEnvironmentCredentials", $"{present} is set but {missing} is not.", missing);
            }

            var options = new KalConnectionOptions { ClientId = clientId!, ClientSecret = clientSecret! };
            options.UseBaseUriFromEnvironment();
            return options;
        }

        /// <summary>Sets the base URI from KALEIDOSCOPE_API_URL, or the default when it is not set.</summary>
        public void UseBaseUriFromEnvironment()
        {
            string? url = Environment.GetEnvironmentVariable(BaseUriVariable);
            BaseUri = ParseBaseUri(string.IsNullOrEmpty(url) ? DefaultBaseUri : url);
            BaseUriSource = string.IsNullOrEmpty(url) ? BaseUriSource.Default : BaseUriSource.Environment;
        }

        /// <summary>Where the base URI came from, in words, e.g. "the base URI comes from KALEIDOSCOPE_API_URL".</summary>
        public string DescribeBaseUriSource()
        {
            switch (BaseUriSource)
            {
                case BaseUriSource.Parameter: return $"the base URI was given with {BaseUriGivenAs ?? "the connection options"}";
                case BaseUriSource.Environment: return $"the base URI comes from {BaseUriVariable}";
                default: return $"the base URI is the default, as none was given and {BaseUriVariable} is not set";
            }
        }

        /// <summary>Refuses options that can never make a working connection, before anything is sent.</summary>
        internal void Validate()
        {
            if (string.IsNullOrWhiteSpace(ClientId))
            {
                throw new KalInputException("MissingClientId", "The client id is empty.", "ClientId");
            }

            if (ClientId.Any(char.IsControl))
            {
                throw new KalInputException("InvalidClientId", "The client id contains a control character (such as a line break). Give the client id exactly as issued.", "ClientId");
            }

            if (string.IsNullOrEmpty(ClientSecret))
            {
                throw new KalInputException("MissingClientSecret", $"No client secret was given for client id '{ClientId}'.", "ClientSecret");
            }

            if (Timeout <= TimeSpan.Zero)
            {
                throw new KalInputException("InvalidTimeout", "The timeout must be at least one second.", "TimeoutSec");
            }

            if (MaximumRetryCount < 0)
            {
                throw new KalInputException("InvalidRetryCount", "The maximum retry count cannot be negative.", "MaximumRetryCount");
            }

            foreach (KeyValuePair<string, string> header in AdditionalHeaders)
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

        /// <summary>Reads the base URI the way users write it, with a clear error for anything that is not an absolute http(s) URI.</summary>
        public static Uri ParseBaseUri(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                throw new KalInputException("InvalidBaseUri", "The base URI is empty. Give the API's address, e.g. https://api.kaleidoscope.bio.", "BaseUri", text);
            }

            bool parsed = Uri.TryCreate(text!.Trim(), UriKind.Absolute, out Uri? uri);
            // A user name may come with a password, and a query with a key: neither is repeated in an error.
            string shown = parsed && (uri!.UserInfo.Length > 0 || uri.Query.Length > 0)
                ? uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)
                : text;
            if (!parsed
                || (uri!.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || string.IsNullOrEmpty(uri.Host))
            {
                throw new KalInputException(
                    "InvalidBaseUri",
                    $"The base URI '{shown}' is not an absolute http:// or https:// address. Give the API's address, e.g. https://api.kaleidoscope.bio.",
                    "BaseUri",
                    shown);
            }

            if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
            {
                throw new KalInputException(
                    "InvalidBaseUri",
                    $"The base URI '{shown}' must not carry a query, fragment or user name. Give only the API's address.",
                    "BaseUri",
                    shown);
            }

            // Normalise to a trailing slash so relative paths append instead of replacing the last segment.
            string left = uri.GetLeftPart(UriPartial.Path);
            return new Uri(left.EndsWith("/", StringComparison.Ordinal) ? left : left + "/");
        }
    }

    /// <summary>A setting that exposes the secret or the data, which the user should be warned about.</summary>
    internal enum SecurityRisk
    {
        CertificateNotChecked,
        PlainHttp,
    }

    /// <summary>Where a connection's base URI came from.</summary>
    internal enum BaseUriSource
    {
        Default,
        Environment,
        Parameter,
    }
}
