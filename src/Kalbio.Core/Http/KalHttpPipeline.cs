using System;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Core.Http
{
    /// <summary>
    /// The one way requests leave the module: each attempt goes through the <see cref="HttpSender"/>, and this loop
    /// decides from the attempt's classification alone whether to send again, after how long, and when to renew a
    /// refused token. Every failure ends as a <see cref="KalApiException"/> with a message that names the request but
    /// never a secret. Built whole: the token manager has its own pipeline without tokens, so nothing is attached later.
    /// </summary>
    internal sealed class KalHttpPipeline
    {
        private readonly HttpSender _sender;
        private readonly RetryPolicy _retry;
        private readonly IAccessTokens? _tokens;

        /// <param name="sender">Sends each attempt; shared by the connection's pipelines.</param>
        /// <param name="retry">How often and after how long a retryable attempt is sent again.</param>
        /// <param name="tokens">The access tokens for authenticated requests; null for the pipeline that obtains them.</param>
        public KalHttpPipeline(HttpSender sender, RetryPolicy retry, IAccessTokens? tokens)
        {
            _sender = sender;
            _retry = retry;
            _tokens = tokens;
        }

        public Uri BaseUri => _sender.BaseUri;

        public bool IsApiOrigin(Uri uri) => _sender.IsApiOrigin(uri);

        /// <summary>How a request is named in messages: the API path, or another host's address; never the query.</summary>
        public string Describe(Uri uri) => _sender.Describe(uri);

        /// <summary>
        /// Sends the request, retrying as its <see cref="RetryMode"/> allows. <paramref name="read"/> reads a successful
        /// response's body (through <see cref="ResponseBody"/>) inside the attempt and reports whether it arrived whole,
        /// so a body that breaks off or ends short is sent for again (for idempotent requests). An exception from
        /// <paramref name="read"/> (such as a disk error) ends the request as it is.
        /// </summary>
        public async Task<T> SendAndReadAsync<T>(
            KalRequest request,
            Func<HttpResponseMessage, RequestTimeout, Task<BodyOutcome<T>>> read,
            IKalLog log,
            CancellationToken cancellation)
        {
            bool tokenRenewed = false;
            int retry = 0;
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                SendOutcome<T> outcome = await _sender.SendOnceAsync(request, _tokens, read, retry, log, cancellation).ConfigureAwait(false);
                if (outcome.Kind == SendOutcomeKind.Success)
                {
                    return outcome.Value;
                }

                cancellation.ThrowIfCancellationRequested();
                if (outcome.RefusedToken is string refused && _tokens != null && !tokenRenewed)
                {
                    // A renewal is not a retry: it does not count against the retry limit, and happens once.
                    log.Verbose($"{outcome.Request}: the access token was refused; renewing it and trying once more.");
                    await _tokens.RenewRejectedAsync(refused, log, cancellation).ConfigureAwait(false);
                    tokenRenewed = true;
                    continue;
                }

                if (outcome.Kind == SendOutcomeKind.Retryable && retry < _retry.MaximumRetryCount)
                {
                    retry++;
                    await WaitBeforeRetryAsync(log, outcome, retry, cancellation).ConfigureAwait(false);
                    continue;
                }

                throw outcome.Failure(retry + 1);
            }
        }

        /// <summary>Sends the request; <paramref name="onSuccess"/> gets a successful response whose body it does not read.</summary>
        public Task<T> SendAsync<T>(
            KalRequest request,
            Func<HttpResponseMessage, RequestTimeout, Task<T>> onSuccess,
            IKalLog log,
            CancellationToken cancellation) =>
            SendAndReadAsync(request, async (response, timeout) => BodyOutcome.Unread(await onSuccess(response, timeout).ConfigureAwait(false)), log, cancellation);

        /// <summary>Sends and reads a JSON (or empty) response body, logging it redacted under -Debug.</summary>
        public Task<string> SendForTextAsync(KalRequest request, IKalLog log, CancellationToken cancellation) =>
            SendAndReadAsync(
                request,
                async (response, timeout) =>
                {
                    (BodyRead read, string text) = await ResponseBody.ReadTextAsync(response, timeout, long.MaxValue).ConfigureAwait(false);
                    if (read.IsComplete && log.IsDebugEnabled && text.Length > 0)
                    {
                        log.Debug($"Response body: {DebugPreview.Of(text, _sender.Redactor)}");
                    }

                    return BodyOutcome.Of(read, text);
                },
                log,
                cancellation);

        private async Task WaitBeforeRetryAsync<T>(IKalLog log, SendOutcome<T> outcome, int retry, CancellationToken cancellation)
        {
            TimeSpan delay = _retry.Delay(retry, outcome.RetryAfter);
            log.Verbose($"{outcome.Request}: {outcome.Reason}; retry {retry} of {_retry.MaximumRetryCount} in {delay.TotalSeconds:0.###} s{(outcome.RetryAfter.HasValue ? " (as the server's Retry-After asks)" : string.Empty)}.");
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, cancellation).ConfigureAwait(false);
            }
        }
    }
}
