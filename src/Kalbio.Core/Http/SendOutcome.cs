using System;

namespace Kalbio.Core.Http
{
    /// <summary>How one attempt ended, as the retry loop sees it.</summary>
    internal enum SendOutcomeKind
    {
        Success,

        /// <summary>Transient, and safe to send again for the request's <see cref="RetryMode"/>.</summary>
        Retryable,

        /// <summary>Sending again cannot help, or could apply the request twice.</summary>
        Final,
    }

    /// <summary>
    /// What one attempt came to: a value, or a failure classified by the code that saw it. The retry loop decides
    /// from <see cref="Kind"/> alone; no exception type is a retry signal.
    /// </summary>
    internal sealed class SendOutcome<T>
    {
        private readonly Func<int, Exception>? _failure;

        private SendOutcome(SendOutcomeKind kind, T value, string? request, string? reason, TimeSpan? retryAfter, string? refusedToken, Func<int, Exception>? failure)
        {
            Kind = kind;
            Value = value;
            Request = request;
            Reason = reason;
            RetryAfter = retryAfter;
            RefusedToken = refusedToken;
            _failure = failure;
        }

        public SendOutcomeKind Kind { get; }

        public T Value { get; }

        /// <summary>The request as messages name it ("GET /files/f1"), after any redirect.</summary>
        public string? Request { get; }

        /// <summary>Why it failed, for the retry line: "503 Service Unavailable", "timed out", "connection failed".</summary>
        public string? Reason { get; }

        /// <summary>The server's Retry-After, when it sent one.</summary>
        public TimeSpan? RetryAfter { get; }

        /// <summary>The access token the server refused (401), when one was sent.</summary>
        public string? RefusedToken { get; }

        public static SendOutcome<T> Success(T value) => new SendOutcome<T>(SendOutcomeKind.Success, value, null, null, null, null, null);

        public static SendOutcome<T> Failed(
            bool retryable, string request, string reason, Func<int, Exception> failure, TimeSpan? retryAfter = null, string? refusedToken = null) =>
            new SendOutcome<T>(retryable ? SendOutcomeKind.Retryable : SendOutcomeKind.Final, default!, request, reason, retryAfter, refusedToken, failure);

        /// <summary>The exception to throw when no further attempt is made, after <paramref name="attempts"/> attempts.</summary>
        public Exception Failure(int attempts) =>
            _failure is null ? throw new InvalidOperationException("A successful outcome has no failure.") : _failure(attempts);
    }

    /// <summary>What reading a successful response gave: the value, valid only when <see cref="Read"/> is complete.</summary>
    internal readonly struct BodyOutcome<T>
    {
        public BodyOutcome(BodyRead read, T value)
        {
            Read = read;
            Value = value;
        }

        public BodyRead Read { get; }

        public T Value { get; }
    }

    internal static class BodyOutcome
    {
        public static BodyOutcome<T> Of<T>(BodyRead read, T value) => new BodyOutcome<T>(read, value);

        /// <summary>A body that did not arrive whole: there is no value.</summary>
        public static BodyOutcome<T> Failed<T>(BodyRead read) => new BodyOutcome<T>(read, default!);

        /// <summary>For a response whose body is not read.</summary>
        public static BodyOutcome<T> Unread<T>(T value) => new BodyOutcome<T>(new BodyRead(BodyReadResult.Complete, 0, null), value);
    }
}
