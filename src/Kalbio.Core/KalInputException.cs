using System;

namespace Kalbio.PowerShell.Client
{
    /// <summary>
    /// Input that can never make a valid request. Raised before anything is sent; <see cref="ErrorId"/> is stable
    /// so scripts and tests can match on it. The message states the fact; <see cref="ErrorId"/> and
    /// <see cref="ArgumentException.ParamName"/> (the input in the core's terms, e.g. FileName or FileId) are the
    /// reason a caller words its own advice from.
    /// </summary>
    public sealed class KalInputException : ArgumentException
    {
        private static readonly string[] ParameterSuffix = { " (Parameter '" };

        public KalInputException(string errorId, string message, string? parameterName = null, object? target = null, Exception? innerException = null)
            : base(message, parameterName, innerException)
        {
            ErrorId = errorId;
            Target = target;
        }

        public string ErrorId { get; }

        public object? Target { get; }

        /// <summary>The same refusal told in other words (a caller's advice added); the id, input and target are kept.</summary>
        internal KalInputException WithMessage(string message) => new KalInputException(ErrorId, message, ParamName, Target, InnerException);

        // ArgumentException appends "(Parameter 'x')" to Message; our messages already name what to fix.
        public override string Message => base.Message.Split(ParameterSuffix, StringSplitOptions.None)[0];
    }
}
