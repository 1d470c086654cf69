using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Core.Http
{
    /// <summary>
    /// The one way requests leave the module: attaches the token (only for the API's own origin), retries what is
    /// transient, follows redirects without leaking the token, applies timeouts, and turns every failure into a
    /// <see cref="KalApiException"/> with a message that names the request but never a secret.
    /// </summary>
    internal sealed class KalHttpPipeline : IDisposable
    {
        private const int MaximumRedirects = 5;
        private const int ErrorBodyLimit = 64 * 1024;
        private const int DebugBodyLimit = 4 * 1024;
        private const string TokenHeader = "X-Kal-Authorization";

        private readonly HttpClient _http;
        private readonly KalConnectionOptions _options;
        private readonly RetryPolicy _retry;
        private readonly Redactor _redactor;
        private TokenManager? _tokens;

        public KalHttpPipeline(KalConnectionOptions options, Redactor redactor)
        {
            _options = options;
            _redactor = redactor;
            _retry = new RetryPolicy(options);
            var handler = new HttpClientHandler
            {
                // Redirects are followed by hand so the token is only ever sent to the API's own origin.
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.None,
            };
            if (options.SkipCertificateCheck)
            {
                handler.ServerCertificateCustomValidationCallback = (message, certificate, chain, errors) => true;
            }

            _http = new HttpClient(handler, disposeHandler: true) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        }

        internal void AttachTokens(TokenManager tokens) => _tokens = tokens;

        public Uri BaseUri => _options.BaseUri;

        public bool IsApiOrigin(Uri uri) =>
            Uri.Compare(uri, _options.BaseUri, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

        /// <summary>How a request is named in messages: the API path, or another host's address; never the query.</summary>
        public string Describe(Uri uri) =>
            IsApiOrigin(uri) ? uri.AbsolutePath : uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

        /// <summary>
        /// Sends the request, retrying as its <see cref="RetryMode"/> allows. <paramref name="onSuccess"/> runs inside
        /// the attempt, so a body that breaks off is retried too (for idempotent requests).
        /// </summary>
        public async Task<T> SendAsync<T>(
            KalRequest request,
            Func<HttpResponseMessage, RequestTimeout, Task<T>> onSuccess,
            IKalLog log,
            CancellationToken cancellation)
        {
            bool tokenRenewed = false;
            for (int retry = 0; ; retry++)
            {
                cancellation.ThrowIfCancellationRequested();
                var stopwatch = Stopwatch.StartNew();
                string? usedToken = null;
                Uri uri = request.Uri;
                HttpMethod method = request.Method;
                try
                {
                    using var timeout = new RequestTimeout(_options.Timeout, cancellation);
                    HttpResponseMessage response;
                    (response, usedToken, uri, method) = await SendFollowingRedirectsAsync(request, log, timeout).ConfigureAwait(false);
                    using (response)
                    {
                        int status = (int)response.StatusCode;
                        // The status line first: the body (logged under -Debug while it is read) belongs after it.
                        LogOutcome(log, method, uri, response, stopwatch, retry);
                        if (status >= 200 && status < 300)
                        {
                            return await onSuccess(response, timeout).ConfigureAwait(false);
                        }

                        KalApiException failure = await CreateFailureAsync(method, uri, response, timeout, log).ConfigureAwait(false);

                        if (status == 401 && usedToken != null && !tokenRenewed && _tokens != null)
                        {
                            log.Verbose($"{method} {Describe(uri)}: the access token was refused; renewing it and trying once more.");
                            await _tokens.RenewRejectedAsync(usedToken, log, cancellation).ConfigureAwait(false);
                            tokenRenewed = true;
                            retry--;
                            continue;
                        }

                        if (RetryPolicy.IsRetriableStatus(status, request.RetryMode) && retry < _retry.MaximumRetryCount)
                        {
                            await WaitBeforeRetryAsync(log, method, uri, retry + 1, $"{status} {response.ReasonPhrase}", failure.RetryAfter, cancellation).ConfigureAwait(false);
                            continue;
                        }

                        failure.Attempts = retry + 1;
                        throw failure;
                    }
                }
                catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
                {
                    throw;
                }
                catch (KalApiException)
                {
                    throw;
                }
                catch (Exception ex) when (ex is OperationCanceledException || ex is HttpRequestException || ex is IOException)
                {
                    KalApiException failure = CreateTransportFailure(method, uri, ex, attempts: null);
                    bool retriable = request.RetryMode == RetryMode.Idempotent
                        ? failure.Kind != KalErrorKind.Network || !IsTlsFailure(ex)
                        : NeverReachedServer(ex);
                    log.Verbose(failure.Message);
                    if (retriable && retry < _retry.MaximumRetryCount)
                    {
                        await WaitBeforeRetryAsync(log, method, uri, retry + 1, failure.Kind == KalErrorKind.Timeout ? "timed out" : "connection failed", null, cancellation).ConfigureAwait(false);
                        continue;
                    }

                    failure = CreateTransportFailure(method, uri, ex, attempts: retry + 1);
                    failure.Attempts = retry + 1;
                    throw failure;
                }
            }
        }

        /// <summary>Sends and reads a JSON (or empty) response body, logging it redacted under -Debug.</summary>
        public Task<string> SendForTextAsync(KalRequest request, IKalLog log, CancellationToken cancellation) =>
            SendAsync(
                request,
                async (response, timeout) =>
                {
                    string text = response.Content is null ? string.Empty : await ReadTextAsync(response.Content, int.MaxValue, timeout).ConfigureAwait(false);
                    if (log.IsDebugEnabled && text.Length > 0)
                    {
                        log.Debug($"Response body: {Truncate(_redactor.Redact(text), DebugBodyLimit)}");
                    }

                    return text;
                },
                log,
                cancellation);

        private async Task<(HttpResponseMessage Response, string? Token, Uri Uri, HttpMethod Method)> SendFollowingRedirectsAsync(
            KalRequest request, IKalLog log, RequestTimeout timeout)
        {
            Uri uri = request.Uri;
            HttpMethod method = request.Method;
            bool sendContent = true;
            for (int hop = 0; ; hop++)
            {
                bool apiOrigin = IsApiOrigin(uri);
                string? token = request.Authenticate && apiOrigin && _tokens != null
                    ? await _tokens.GetAccessTokenAsync(log, timeout.Token).ConfigureAwait(false)
                    : null;
                using HttpRequestMessage message = BuildMessage(request, method, uri, apiOrigin, token, sendContent);
                LogRequest(log, message, request, sendContent);
                HttpResponseMessage response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);

                int status = (int)response.StatusCode;
                bool isRedirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
                if (!isRedirect || response.Headers.Location is null)
                {
                    return (response, token, uri, method);
                }

                Uri next = response.Headers.Location.IsAbsoluteUri ? response.Headers.Location : new Uri(uri, response.Headers.Location);
                response.Dispose();
                if (hop + 1 > MaximumRedirects)
                {
                    throw new KalApiException(KalErrorKind.InvalidResponse, method.Method, Describe(request.Uri), $"{method} {Describe(request.Uri)} was redirected more than {MaximumRedirects} times.");
                }

                if (uri.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps)
                {
                    throw new KalApiException(KalErrorKind.InvalidResponse, method.Method, Describe(request.Uri), $"{method} {Describe(request.Uri)} was redirected from https to an insecure address ({Describe(next)}); not followed.");
                }

                if (status == 303 || ((status == 301 || status == 302) && method == HttpMethod.Post))
                {
                    method = HttpMethod.Get;
                    sendContent = false;
                }

                log.Verbose($"{request.Method} {Describe(uri)} redirected ({status}) to {Describe(next)}{(IsApiOrigin(next) ? string.Empty : "; another host, so no token is sent")}.");
                uri = next;
            }
        }

        private HttpRequestMessage BuildMessage(KalRequest request, HttpMethod method, Uri uri, bool apiOrigin, string? token, bool sendContent)
        {
            var message = new HttpRequestMessage(method, uri);
            message.Headers.TryAddWithoutValidation("User-Agent", _options.UserAgent);
            if (apiOrigin)
            {
                foreach (KeyValuePair<string, string> header in _options.AdditionalHeaders)
                {
                    message.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            foreach (KeyValuePair<string, string> header in request.Headers)
            {
                message.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            if (token != null)
            {
                message.Headers.TryAddWithoutValidation(TokenHeader, "Bearer " + token);
            }

            if (sendContent && request.CreateContent != null)
            {
                message.Content = request.CreateContent();
            }

            return message;
        }

        private void LogRequest(IKalLog log, HttpRequestMessage message, KalRequest request, bool sendContent)
        {
            if (!log.IsDebugEnabled)
            {
                return;
            }

            var text = new StringBuilder();
            text.Append(message.Method).Append(' ').Append(Describe(message.RequestUri!));
            IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers = message.Headers;
            if (message.Content != null)
            {
                headers = headers.Concat(message.Content.Headers);
            }

            foreach (KeyValuePair<string, IEnumerable<string>> header in headers)
            {
                text.AppendLine().Append("  ").Append(header.Key).Append(": ").Append(_redactor.RedactHeader(header.Key, string.Join(", ", header.Value)));
            }

            string? body = sendContent ? request.DescribeContent?.Invoke() : null;
            if (body != null)
            {
                text.AppendLine().Append("  Body: ").Append(Truncate(_redactor.Redact(body), DebugBodyLimit));
            }

            log.Debug(text.ToString());
        }

        private void LogOutcome(IKalLog log, HttpMethod method, Uri uri, HttpResponseMessage response, Stopwatch stopwatch, int retry)
        {
            if (log.IsVerboseEnabled)
            {
                string retries = retry > 0 ? $" after {retry} {(retry == 1 ? "retry" : "retries")}" : string.Empty;
                log.Verbose($"{method} {Describe(uri)} -> {(int)response.StatusCode} {response.ReasonPhrase} ({stopwatch.ElapsedMilliseconds} ms{retries})");
            }

            if (log.IsDebugEnabled)
            {
                var text = new StringBuilder($"Response {(int)response.StatusCode} {response.ReasonPhrase}; headers:");
                foreach (KeyValuePair<string, IEnumerable<string>> header in response.Headers.Concat(response.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>()))
                {
                    text.AppendLine().Append("  ").Append(header.Key).Append(": ").Append(_redactor.RedactHeader(header.Key, string.Join(", ", header.Value)));
                }

                log.Debug(text.ToString());
            }
        }

        private async Task WaitBeforeRetryAsync(IKalLog log, HttpMethod method, Uri uri, int retry, string reason, TimeSpan? retryAfter, CancellationToken cancellation)
        {
            TimeSpan delay = _retry.Delay(retry, retryAfter);
            log.Verbose($"{method} {Describe(uri)}: {reason}; retry {retry} of {_retry.MaximumRetryCount} in {delay.TotalSeconds:0.###} s{(retryAfter.HasValue ? " (as the server's Retry-After asks)" : string.Empty)}.");
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, cancellation).ConfigureAwait(false);
            }
        }

        private async Task<KalApiException> CreateFailureAsync(HttpMethod method, Uri uri, HttpResponseMessage response, RequestTimeout timeout, IKalLog log)
        {
            string? body = null;
            try
            {
                body = response.Content is null ? null : await ReadTextAsync(response.Content, ErrorBodyLimit, timeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException || ex is HttpRequestException || (ex is OperationCanceledException && !timeout.Token.IsCancellationRequested))
            {
                // The status is what matters; a body that cannot be read is left out.
            }

            string? redactedBody = body is null ? null : _redactor.Redact(body);
            if (log.IsDebugEnabled && !string.IsNullOrEmpty(redactedBody))
            {
                log.Debug($"Response body: {Truncate(redactedBody!, DebugBodyLimit)}");
            }

            int status = (int)response.StatusCode;
            string? serverMessage = ServerMessage.Extract(redactedBody);
            string message = $"{method} {Describe(uri)} failed with {status} {response.ReasonPhrase}" + (serverMessage is null ? "." : ": " + serverMessage);
            return new KalApiException(
                KalApiException.KindForStatus(status),
                method.Method,
                Describe(uri),
                message,
                status,
                serverMessage,
                redactedBody is null ? null : Truncate(redactedBody, DebugBodyLimit),
                RetryPolicy.ParseRetryAfter(response));
        }

        /// <summary>
        /// The failure for an exception from the transport. <paramref name="attempts"/> is given for the final failure,
        /// whose message then says how many attempts were made.
        /// </summary>
        private KalApiException CreateTransportFailure(HttpMethod method, Uri uri, Exception ex, int? attempts)
        {
            string request = $"{method} {Describe(uri)}";
            if (ex is OperationCanceledException)
            {
                return new KalApiException(
                    KalErrorKind.Timeout,
                    method.Method,
                    Describe(uri),
                    $"{request} timed out: the server sent nothing for {_options.Timeout.TotalSeconds:0.###} s.",
                    innerException: ex) { Reason = KalApiReason.NoAnswerInTime };
            }

            if (IsTlsFailure(ex))
            {
                return new KalApiException(
                    KalErrorKind.Network,
                    method.Method,
                    Describe(uri),
                    $"{request} failed: the server's TLS certificate was not accepted ({Innermost(ex).Message}).",
                    innerException: ex) { Reason = KalApiReason.CertificateRejected };
            }

            string tries = attempts is int count ? $" after {count} {(count == 1 ? "attempt" : "attempts")}" : string.Empty;
            string cause = _redactor.Redact(Innermost(ex).Message);
            string message = ex is IOException
                ? $"{request} failed: the connection broke off while reading the response{tries} ({cause})."
                : IsApiOrigin(uri)
                    ? $"{request} failed: could not reach the server at {_options.BaseUri}{tries} ({cause}); {_options.DescribeBaseUriSource()}."
                    : $"{request} failed: could not reach the server{tries} ({cause}).";
            return new KalApiException(KalErrorKind.Network, method.Method, Describe(uri), message, innerException: ex);
        }

        private static bool NeverReachedServer(Exception ex)
        {
            for (Exception? e = ex; e != null; e = e.InnerException)
            {
                if (e is SocketException socket
                    && (socket.SocketErrorCode == SocketError.ConnectionRefused
                        || socket.SocketErrorCode == SocketError.HostNotFound
                        || socket.SocketErrorCode == SocketError.NetworkUnreachable
                        || socket.SocketErrorCode == SocketError.HostUnreachable))
                {
                    return true;
                }
            }

            return false;
        }

        private static bool IsTlsFailure(Exception ex)
        {
            for (Exception? e = ex; e != null; e = e.InnerException)
            {
                if (e is AuthenticationException)
                {
                    return true;
                }
            }

            return false;
        }

        private static Exception Innermost(Exception ex)
        {
            while (ex.InnerException != null)
            {
                ex = ex.InnerException;
            }

            return ex;
        }

        internal static async Task<string> ReadTextAsync(HttpContent content, int limit, RequestTimeout timeout)
        {
            using Stream stream = await content.ReadAsStreamAsync().ConfigureAwait(false);
            using var buffer = new MemoryStream();
            byte[] chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, 0, chunk.Length, timeout.Token).ConfigureAwait(false)) > 0)
            {
                timeout.Restart();
                int keep = (int)Math.Min(read, (long)limit - buffer.Length);
                buffer.Write(chunk, 0, keep);
                if (buffer.Length >= limit)
                {
                    break;
                }
            }

            return new UTF8Encoding(false).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }

        internal static string Truncate(string text, int limit) =>
            text.Length <= limit ? text : text.Substring(0, limit) + $"… ({text.Length - limit} more characters)";

        public void Dispose() => _http.Dispose();
    }
}
