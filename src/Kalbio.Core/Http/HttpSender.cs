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
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Http
{
    /// <summary>
    /// Sends a request once: attaches the token (only for the API's own origin), follows redirects without leaking
    /// it, applies the timeout, logs, and classifies how the attempt ended as a <see cref="SendOutcome{T}"/>. Whether
    /// to send again is the caller's decision (<see cref="KalHttpPipeline"/>). Owns the connection's one HttpClient.
    /// </summary>
    internal sealed class HttpSender : IDisposable
    {
        private const int MaximumRedirects = 5;
        private const string TokenHeader = "X-Kal-Authorization";

        private readonly HttpClient _http;
        private readonly KalConnectionOptions _options;

        public HttpSender(KalConnectionOptions options, Redactor redactor)
        {
            _options = options;
            Redactor = redactor;
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

        public Uri BaseUri => _options.BaseUri;

        public Redactor Redactor { get; }

        public bool IsApiOrigin(Uri uri) =>
            Uri.Compare(uri, _options.BaseUri, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

        /// <summary>How a request is named in messages: the API path, or another host's address; never the query.</summary>
        public string Describe(Uri uri) =>
            IsApiOrigin(uri) ? uri.AbsolutePath : uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

        /// <summary>
        /// One attempt. A 2xx response is handed to <paramref name="read"/>, which reads the body and says whether it
        /// arrived whole. <paramref name="retry"/> (0 for the first attempt) is for the log. Exceptions that escape
        /// (the caller's cancellation, a failure of <paramref name="read"/>'s own sink, a refused redirect) are final.
        /// </summary>
        public async Task<SendOutcome<T>> SendOnceAsync<T>(
            KalRequest request,
            IAccessTokens? tokens,
            Func<HttpResponseMessage, RequestTimeout, Task<BodyOutcome<T>>> read,
            int retry,
            IKalLog log,
            CancellationToken cancellation)
        {
            var stopwatch = Stopwatch.StartNew();
            using var timeout = new RequestTimeout(_options.Timeout, cancellation);
            Uri uri = request.Uri;
            HttpMethod method = request.Method;
            string? token;
            HttpResponseMessage response;
            try
            {
                (response, token, uri, method) = await SendFollowingRedirectsAsync(request, tokens, log, timeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (FaultOf(ex) is TransportFault fault)
            {
                cancellation.ThrowIfCancellationRequested();
                return TransportFailure<T>(request, method, uri, fault, whileReading: ex is IOException, ex, cause: null, log);
            }

            using (response)
            {
                int status = (int)response.StatusCode;
                // The status line first: the body (logged under -Debug while it is read) belongs after it.
                LogOutcome(log, method, uri, response, stopwatch, retry);
                if (status >= 200 && status < 300)
                {
                    BodyOutcome<T> body = await read(response, timeout).ConfigureAwait(false);
                    return body.Read.IsComplete ? SendOutcome<T>.Success(body.Value) : BodyFailure<T>(request, method, uri, body.Read, log);
                }

                (BodyRead errorRead, string errorBody) = await ResponseBody.ReadTextAsync(response, timeout, ResponseBody.ErrorBodyLimit).ConfigureAwait(false);
                if (errorRead.Result == BodyReadResult.TimedOut)
                {
                    return BodyFailure<T>(request, method, uri, errorRead, log);
                }

                // The status is what matters; a body that broke off is left out.
                KalApiException failure = CreateFailure(method, uri, response, errorRead.Result == BodyReadResult.BrokenOff ? null : errorBody, log);
                return SendOutcome<T>.Failed(
                    RetryPolicy.IsRetriableStatus(status, request.RetryMode),
                    $"{method} {Describe(uri)}",
                    $"{status} {response.ReasonPhrase}",
                    attempts =>
                    {
                        failure.Attempts = attempts;
                        return failure;
                    },
                    failure.RetryAfter,
                    refusedToken: status == 401 ? token : null);
            }
        }

        private async Task<(HttpResponseMessage Response, string? Token, Uri Uri, HttpMethod Method)> SendFollowingRedirectsAsync(
            KalRequest request, IAccessTokens? tokens, IKalLog log, RequestTimeout timeout)
        {
            Uri uri = request.Uri;
            HttpMethod method = request.Method;
            bool sendContent = true;
            for (int hop = 0; ; hop++)
            {
                bool apiOrigin = IsApiOrigin(uri);
                string? token = request.Authenticate && apiOrigin && tokens != null
                    ? await tokens.GetAccessTokenAsync(log, timeout.Token).ConfigureAwait(false)
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
                text.AppendLine().Append("  ").Append(header.Key).Append(": ").Append(Redactor.RedactHeader(header.Key, string.Join(", ", header.Value)));
            }

            string? body = sendContent ? request.DescribeContent?.Invoke() : null;
            if (body != null)
            {
                text.AppendLine().Append("  Body: ").Append(DebugPreview.Of(body, Redactor));
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
                    text.AppendLine().Append("  ").Append(header.Key).Append(": ").Append(Redactor.RedactHeader(header.Key, string.Join(", ", header.Value)));
                }

                log.Debug(text.ToString());
            }
        }

        private KalApiException CreateFailure(HttpMethod method, Uri uri, HttpResponseMessage response, string? body, IKalLog log)
        {
            string? redactedBody = body is null ? null : Redactor.Redact(body);
            if (log.IsDebugEnabled && !string.IsNullOrEmpty(redactedBody))
            {
                log.Debug($"Response body: {DebugPreview.Shorten(redactedBody!)}");
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
                redactedBody is null ? null : DebugPreview.Shorten(redactedBody),
                RetryPolicy.ParseRetryAfter(response, _options.UtcNow()));
        }

        /// <summary>A body that broke off, ended short or stalled; whether that is retryable depends on the request.</summary>
        private SendOutcome<T> BodyFailure<T>(KalRequest request, HttpMethod method, Uri uri, BodyRead read, IKalLog log)
        {
            string? cause = read.Result == BodyReadResult.Truncated
                ? $"The response ended after {read.BytesReceived:N0} of the {read.BytesExpected:N0} bytes announced by Content-Length."
                : null;
            TransportFault fault = read.Result == BodyReadResult.TimedOut ? TransportFault.TimedOut : TransportFault.ConnectionFailed;
            return TransportFailure<T>(request, method, uri, fault, whileReading: true, read.Cause, cause, log);
        }

        private SendOutcome<T> TransportFailure<T>(
            KalRequest request, HttpMethod method, Uri uri, TransportFault fault, bool whileReading, Exception? exception, string? cause, IKalLog log)
        {
            log.Verbose(CreateTransportFailure(method, uri, fault, whileReading, exception, cause, attempts: null).Message);
            return SendOutcome<T>.Failed(
                RetryPolicy.IsRetriable(fault, request.RetryMode),
                $"{method} {Describe(uri)}",
                fault == TransportFault.TimedOut ? "timed out" : "connection failed",
                attempts =>
                {
                    KalApiException failure = CreateTransportFailure(method, uri, fault, whileReading, exception, cause, attempts);
                    failure.Attempts = attempts;
                    return failure;
                });
        }

        /// <summary>
        /// The failure for a fault below HTTP. <paramref name="attempts"/> is given for the final failure, whose message
        /// then says how many attempts were made.
        /// </summary>
        private KalApiException CreateTransportFailure(
            HttpMethod method, Uri uri, TransportFault fault, bool whileReading, Exception? exception, string? cause, int? attempts)
        {
            string request = $"{method} {Describe(uri)}";
            if (fault == TransportFault.TimedOut)
            {
                return new KalApiException(
                    KalErrorKind.Timeout,
                    method.Method,
                    Describe(uri),
                    $"{request} timed out: the server sent nothing for {_options.Timeout.TotalSeconds:0.###} s.",
                    innerException: exception,
                    reason: KalApiReason.NoAnswerInTime);
            }

            if (fault == TransportFault.CertificateRefused)
            {
                return new KalApiException(
                    KalErrorKind.Network,
                    method.Method,
                    Describe(uri),
                    $"{request} failed: the server's TLS certificate was not accepted ({Innermost(exception!).Message}).",
                    innerException: exception,
                    reason: KalApiReason.CertificateRejected);
            }

            string tries = attempts is int count ? $" after {count} {(count == 1 ? "attempt" : "attempts")}" : string.Empty;
            cause ??= Redactor.Redact(exception is null ? "no detail" : Innermost(exception).Message);
            string message = whileReading
                ? $"{request} failed: the connection broke off while reading the response{tries} ({cause})."
                : IsApiOrigin(uri)
                    ? $"{request} failed: could not reach the server at {_options.BaseUri}{tries} ({cause}); {_options.DescribeBaseUriSource()}."
                    : $"{request} failed: could not reach the server{tries} ({cause}).";
            return new KalApiException(
                KalErrorKind.Network,
                method.Method,
                Describe(uri),
                message,
                innerException: exception,
                reason: whileReading ? KalApiReason.BodyBrokenOff : KalApiReason.ServerUnreachable);
        }

        /// <summary>The fault an exception from sending stands for; null when it is not the transport's (it then propagates).</summary>
        private static TransportFault? FaultOf(Exception ex)
        {
            if (ex is OperationCanceledException)
            {
                return TransportFault.TimedOut;
            }

            if (!(ex is HttpRequestException || ex is IOException))
            {
                return null;
            }

            bool neverConnected = false;
            for (Exception? e = ex; e != null; e = e.InnerException)
            {
                if (e is AuthenticationException)
                {
                    return TransportFault.CertificateRefused;
                }

                neverConnected |= e is SocketException socket
                    && (socket.SocketErrorCode == SocketError.ConnectionRefused
                        || socket.SocketErrorCode == SocketError.HostNotFound
                        || socket.SocketErrorCode == SocketError.NetworkUnreachable
                        || socket.SocketErrorCode == SocketError.HostUnreachable);
            }

            return neverConnected ? TransportFault.NotConnected : TransportFault.ConnectionFailed;
        }

        private static Exception Innermost(Exception ex)
        {
            while (ex.InnerException != null)
            {
                ex = ex.InnerException;
            }

            return ex;
        }

        public void Dispose() => _http.Dispose();
    }
}
