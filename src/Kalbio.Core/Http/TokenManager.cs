using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Net.Http;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Http
{
    /// <summary>
    /// Owns the connection's tokens. Refresh tokens rotate and a spent one presented twice revokes the whole family,
    /// so every renewal happens under one lock with a re-check: however many runspaces share the connection,
    /// one expiry causes exactly one grant.
    /// </summary>
    [SuppressMessage("Design", "CA1001", Justification = "Its SemaphoreSlim never makes a wait handle (only WaitAsync is used), so there is nothing to free, and a renewal in another runspace may still hold it when the connection is dropped.")]
    internal sealed class TokenManager : IAccessTokens
    {
        private const string TokenPath = "auth/oauth/token";

        private readonly KalHttpPipeline _pipeline;
        private readonly KalConnectionOptions _options;
        private readonly Redactor _redactor;
        private readonly SemaphoreSlim _gate = new SemaphoreSlim(1, 1);
        private volatile TokenSet? _current;

        /// <param name="pipeline">The token grants' own pipeline: one without tokens.</param>
        /// <param name="options">The connection's client credentials and base URI.</param>
        /// <param name="redactor">Learns each token obtained, so none is ever shown.</param>
        public TokenManager(KalHttpPipeline pipeline, KalConnectionOptions options, Redactor redactor)
        {
            _pipeline = pipeline;
            _options = options;
            _redactor = redactor;
        }

        public DateTimeOffset? ExpiresAt => _current?.ExpiresAt;

        public async Task<string> GetAccessTokenAsync(IKalLog log, CancellationToken cancellation)
        {
            TokenSet? current = _current;
            if (current != null && !current.IsDue(_options.UtcNow()))
            {
                return current.AccessToken;
            }

            await _gate.WaitAsync(cancellation).ConfigureAwait(false);
            try
            {
                current = _current;
                if (current != null && !current.IsDue(_options.UtcNow()))
                {
                    return current.AccessToken;
                }

                _current = await RenewAsync(current, log, cancellation).ConfigureAwait(false);
                return _current.AccessToken;
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task<string> RenewRejectedAsync(string rejectedToken, IKalLog log, CancellationToken cancellation)
        {
            await _gate.WaitAsync(cancellation).ConfigureAwait(false);
            try
            {
                TokenSet? current = _current;
                if (current != null && !string.Equals(current.AccessToken, rejectedToken, StringComparison.Ordinal) && !current.IsDue(_options.UtcNow()))
                {
                    return current.AccessToken;
                }

                _current = await RenewAsync(current, log, cancellation).ConfigureAwait(false);
                return _current.AccessToken;
            }
            finally
            {
                _gate.Release();
            }
        }

        private async Task<TokenSet> RenewAsync(TokenSet? current, IKalLog log, CancellationToken cancellation)
        {
            if (current?.RefreshToken != null)
            {
                try
                {
                    log.Verbose("Refreshing the access token.");
                    return await GrantAsync(
                        new[] { Pair("grant_type", "refresh_token"), Pair("refresh_token", current.RefreshToken) },
                        RetryMode.OnlyIfNotProcessed,
                        "refresh_token",
                        log,
                        cancellation).ConfigureAwait(false);
                }
                catch (KalApiException ex) when (ex.StatusCode >= 400 && ex.StatusCode < 500)
                {
                    log.Verbose($"The refresh token was refused ({ex.StatusCode}); requesting a new token with the client credentials.");
                }
            }

            log.Verbose($"Requesting an access token for client '{_options.ClientId}'.");
            return await GrantAsync(
                new[] { Pair("grant_type", "client_credentials"), Pair("client_id", _options.ClientId), Pair("client_secret", _options.ClientSecret) },
                RetryMode.Idempotent,
                "client_credentials",
                log,
                cancellation).ConfigureAwait(false);
        }

        private async Task<TokenSet> GrantAsync(
            KeyValuePair<string, string>[] form, RetryMode retryMode, string grantType, IKalLog log, CancellationToken cancellation)
        {
            var request = new KalRequest(HttpMethod.Post, new Uri(_options.BaseUri, TokenPath))
            {
                // Stryker disable once Boolean : the token grants' pipeline is built without a token source, so a request on it can carry no token either way
                Authenticate = false,
                RetryMode = retryMode,
                CreateContent = () => new FormUrlEncodedContent(form),
                DescribeContent = () => string.Join("&", Array.ConvertAll(form, p => p.Key + "=" + Uri.EscapeDataString(p.Value))),
            };

            DateTimeOffset requestedAt = _options.UtcNow();
            string body;
            try
            {
                body = await _pipeline.SendForTextAsync(request, log, cancellation).ConfigureAwait(false);
            }
            catch (KalApiException ex) when (ex.StatusCode >= 400 && ex.StatusCode < 500 && grantType == "client_credentials")
            {
                throw new KalApiException(
                    KalErrorKind.Authentication,
                    ex.Method,
                    ex.RequestPath,
                    $"The API at {_options.BaseUri} refused the client credentials for client id '{_options.ClientId}' ({ex.StatusCode}{(ex.ServerMessage is null ? string.Empty : ": " + ex.ServerMessage)}).",
                    ex.StatusCode,
                    ex.ServerMessage,
                    ex.ResponseBody,
                    ex.RetryAfter,
                    ex);
            }

            TokenSet tokens = ParseTokenResponse(body, requestedAt, request);
            _redactor.Remember(tokens.AccessToken);
            _redactor.Remember(tokens.RefreshToken);
            log.Verbose($"Obtained an access token ({grantType}); it expires at {tokens.ExpiresAt.ToLocalTime():yyyy-MM-dd HH:mm:ss zzz}.");
            return tokens;
        }

        private TokenSet ParseTokenResponse(string body, DateTimeOffset requestedAt, KalRequest request)
        {
            try
            {
                using JsonDocument document = JsonDocument.Parse(body);
                JsonElement root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Object
                    && root.TryGetProperty("access_token", out JsonElement access) && access.ValueKind == JsonValueKind.String
                    && !string.IsNullOrEmpty(access.GetString()))
                {
                    string? refresh = root.TryGetProperty("refresh_token", out JsonElement r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                    TimeSpan lifetime = root.TryGetProperty("expires_in", out JsonElement e) && e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double seconds) && seconds > 0
                        ? TimeSpan.FromSeconds(seconds)
                        : TimeSpan.FromMinutes(5);
                    return new TokenSet(access.GetString()!, string.IsNullOrEmpty(refresh) ? null : refresh, requestedAt, lifetime);
                }
            }
            catch (JsonException)
            {
                // Reported below, with the start of what came back.
            }

            string start = ServerMessage.Shorten(_redactor.Redact(body));
            throw new KalApiException(
                KalErrorKind.InvalidResponse,
                request.Method.Method,
                _pipeline.Describe(request.Uri),
                $"POST {_pipeline.Describe(request.Uri)} answered with something that is not a token response: '{(start.Length == 0 ? "(empty)" : start)}'. Is the base URI the Kaleidoscope API?");
        }

        private static KeyValuePair<string, string> Pair(string key, string value) => new KeyValuePair<string, string>(key, value);
    }
}
