using System;
using System.Net;
using Kalbio.Core;

namespace Kalbio.PowerShell.Client
{
    /// <summary>
    /// A failed call to the Kaleidoscope API: the request (method and path, never the query or a secret),
    /// the status code when the server answered, and the server's own message.
    /// </summary>
    public sealed class KalApiException : Exception
    {
        internal KalApiException(
            KalErrorKind kind,
            string method,
            string requestPath,
            string message,
            int? statusCode = null,
            string? serverMessage = null,
            string? responseBody = null,
            TimeSpan? retryAfter = null,
            Exception? innerException = null,
            KalApiReason reason = KalApiReason.Unspecified)
            : base(message, innerException)
        {
            Reason = reason;
            Kind = kind;
            Method = method;
            RequestPath = requestPath;
            StatusCode = statusCode;
            ServerMessage = serverMessage;
            ResponseBody = responseBody;
            RetryAfter = retryAfter;
        }

        public KalErrorKind Kind { get; }

        public string Method { get; }

        /// <summary>The path of the request (for another host, its scheme, host and path), without the query.</summary>
        public string RequestPath { get; }

        public int? StatusCode { get; }

        /// <summary>The server's explanation (its JSON <c>message</c> and validation details), when it gave one.</summary>
        public string? ServerMessage { get; }

        /// <summary>The start of the response body, secrets redacted.</summary>
        public string? ResponseBody { get; }

        public TimeSpan? RetryAfter { get; }

        /// <summary>How many attempts were made before giving up.</summary>
        public int Attempts { get; internal set; } = 1;

        internal KalApiReason Reason { get; }

        /// <summary>The same failure told in other words (a caller's advice added); everything else is kept.</summary>
        internal KalApiException WithMessage(string message) =>
            new KalApiException(Kind, Method, RequestPath, message, StatusCode, ServerMessage, ResponseBody, RetryAfter, InnerException, Reason)
            {
                Attempts = Attempts,
            };

        public static KalErrorKind KindForStatus(int status)
        {
            switch (status)
            {
                case (int)HttpStatusCode.Unauthorized: return KalErrorKind.Authentication;
                case (int)HttpStatusCode.Forbidden: return KalErrorKind.PermissionDenied;
                case (int)HttpStatusCode.NotFound: return KalErrorKind.NotFound;
                case (int)HttpStatusCode.Conflict: return KalErrorKind.Conflict;
                case (int)HttpStatusCode.BadRequest:
                case 422:
                    return KalErrorKind.InvalidRequest;
                case 429: return KalErrorKind.RateLimited;
                case (int)HttpStatusCode.RequestTimeout: return KalErrorKind.Timeout;
            }

            return status >= 500 ? KalErrorKind.ServerError : KalErrorKind.RequestFailed;
        }
    }
}
