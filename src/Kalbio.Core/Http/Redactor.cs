using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace Kalbio.Core.Http
{
    /// <summary>
    /// Removes secrets from any text before it leaves the core: known secret values (client secret, tokens,
    /// additional header values) wherever they appear, and the values of secret-named fields and headers.
    /// </summary>
    internal sealed class Redactor
    {
        public const string Mask = "***";
        private const int MinimumSecretLength = 6;
        private const int RememberedSecrets = 16;

        private static readonly Regex SecretJsonField = new Regex(
            "(\"(?:access_token|refresh_token|client_secret|id_token|password)\"\\s*:\\s*)\"(?:[^\"\\\\]|\\\\.)*\"",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);

        private static readonly Regex SecretFormField = new Regex(
            "((?:^|&)(?:client_secret|refresh_token|access_token|password)=)[^&]*",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);

        private static readonly HashSet<string> SecretHeaders = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "X-Kal-Authorization", "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
        };

        private readonly object _gate = new object();
        private readonly LinkedList<string> _secrets = new LinkedList<string>();
        private readonly List<string> _pinned = new List<string>();

        /// <summary>A value that is a secret for the connection's whole life (client secret, proxy token).</summary>
        public void Pin(string? secret)
        {
            if (secret is null || secret.Length < MinimumSecretLength)
            {
                return;
            }

            lock (_gate)
            {
                _pinned.Add(secret);
            }
        }

        /// <summary>A token; the most recent ones are remembered, older ones are no longer valid anyway.</summary>
        public void Remember(string? secret)
        {
            if (secret is null || secret.Length < MinimumSecretLength)
            {
                return;
            }

            lock (_gate)
            {
                _secrets.AddFirst(secret);
                while (_secrets.Count > RememberedSecrets)
                {
                    _secrets.RemoveLast();
                }
            }
        }

        public static bool IsSecretHeader(string name) =>
            SecretHeaders.Contains(name)
            || name.IndexOf("token", StringComparison.OrdinalIgnoreCase) >= 0
            || name.IndexOf("secret", StringComparison.OrdinalIgnoreCase) >= 0
            || name.IndexOf("key", StringComparison.OrdinalIgnoreCase) >= 0;

        public string RedactHeader(string name, string value) => IsSecretHeader(name) ? Mask : Redact(value);

        public string Redact(string? text)
        {
            if (string.IsNullOrEmpty(text))
            {
                return string.Empty;
            }

            string result = SecretJsonField.Replace(text, "$1\"" + Mask + "\"");
            result = SecretFormField.Replace(result, "$1" + Mask);
            lock (_gate)
            {
                foreach (string secret in _pinned)
                {
                    result = result.Replace(secret, Mask);
                }

                foreach (string secret in _secrets)
                {
                    result = result.Replace(secret, Mask);
                }
            }

            return result;
        }
    }
}
