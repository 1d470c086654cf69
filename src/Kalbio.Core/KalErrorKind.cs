namespace Kalbio.PowerShell.Client
{
    /// <summary>What went wrong with a request, in the terms a caller can act on.</summary>
    public enum KalErrorKind
    {
        Authentication,
        PermissionDenied,
        NotFound,
        InvalidRequest,
        Conflict,
        RateLimited,
        ServerError,
        Network,
        Timeout,
        InvalidResponse,
        RequestFailed,
    }
}
