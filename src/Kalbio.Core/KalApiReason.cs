namespace Kalbio.Core
{
    /// <summary>
    /// The specific fact behind a <see cref="KalApiException"/>, beyond its <see cref="KalErrorKind"/>, for callers that
    /// advise on it in their own terms (a cmdlet names its own parameters; the core never does).
    /// </summary>
    internal enum KalApiReason
    {
        Unspecified,

        /// <summary>The server sent nothing within the connection's timeout.</summary>
        NoAnswerInTime,

        /// <summary>The server's TLS certificate was not accepted.</summary>
        CertificateRejected,

        /// <summary>A body that is neither JSON nor text was to be parsed.</summary>
        BodyNeitherJsonNorText,

        /// <summary>A body said to be JSON did not parse.</summary>
        BodyNotJson,

        /// <summary>No connection to the server could be made, or it failed before any answer came.</summary>
        ServerUnreachable,

        /// <summary>The server answered, but the body broke off, ended short of its Content-Length, or stalled.</summary>
        BodyBrokenOff,
    }
}
