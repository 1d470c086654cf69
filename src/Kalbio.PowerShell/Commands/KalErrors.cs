using System;
using System.Management.Automation;
using Kalbio.Core;
using Kalbio.Core.Api;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Turns the core's exceptions into ErrorRecords with stable ids, the right category and the server's message.</summary>
    internal static class KalErrors
    {
        public static ErrorRecord ToErrorRecord(Exception exception, object? target, string? notFoundErrorId = null)
        {
            switch (exception)
            {
                case KalInputException input:
                    return new ErrorRecord(input, input.ErrorId, ErrorCategory.InvalidArgument, input.Target ?? target);
                case KalApiException api:
                    (string id, ErrorCategory category) = Classify(api, notFoundErrorId);
                    var record = new ErrorRecord(api, id, category, target);
                    record.ErrorDetails = new ErrorDetails(api.Message) { RecommendedAction = RecommendedActionFor(api) };
                    return record;
                case DestinationExistsException exists:
                    return new ErrorRecord(exists, "FileExists", ErrorCategory.ResourceExists, exists.Path);
                case UnauthorizedAccessException denied:
                    return new ErrorRecord(denied, "FileAccessDenied", ErrorCategory.PermissionDenied, target);
                case System.IO.IOException io:
                    return new ErrorRecord(io, "FileWriteFailed", ErrorCategory.WriteError, target);
                default:
                    return new ErrorRecord(exception, "KalUnexpectedError", ErrorCategory.NotSpecified, target);
            }
        }

        /// <summary>What to do about a failed call, when there is something general to say; null otherwise.</summary>
        public static string? RecommendedActionFor(KalApiException api)
        {
            switch (api.Kind)
            {
                case KalErrorKind.Authentication:
                    return "Check the client id and secret, then run Connect-KalApi again.";
                case KalErrorKind.Network when !IsTlsFailure(api) && !(api.InnerException is System.IO.IOException):
                    return "Check the address and that the server is up. To use the local sandbox (build.ps1 -Task Sandbox), pass -BaseUri http://127.0.0.1:5080 to Connect-KalApi or set KALEIDOSCOPE_API_URL to it.";
                default:
                    return null;
            }
        }

        private static bool IsTlsFailure(Exception exception)
        {
            for (Exception? e = exception; e != null; e = e.InnerException)
            {
                if (e is System.Security.Authentication.AuthenticationException)
                {
                    return true;
                }
            }

            return false;
        }

        public static ErrorRecord Create(string errorId, ErrorCategory category, string message, object? target, Exception? inner = null) =>
            new ErrorRecord(new KalInputException(errorId, message, null, target, inner), errorId, category, target);

        private static (string Id, ErrorCategory Category) Classify(KalApiException api, string? notFoundErrorId)
        {
            switch (api.Kind)
            {
                case KalErrorKind.Authentication: return ("KalAuthenticationFailed", ErrorCategory.AuthenticationError);
                case KalErrorKind.PermissionDenied: return ("KalPermissionDenied", ErrorCategory.PermissionDenied);
                case KalErrorKind.NotFound: return (notFoundErrorId ?? "KalNotFound", ErrorCategory.ObjectNotFound);
                case KalErrorKind.InvalidRequest: return ("KalInvalidRequest", ErrorCategory.InvalidData);
                case KalErrorKind.Conflict: return ("KalConflict", ErrorCategory.ResourceExists);
                case KalErrorKind.RateLimited: return ("KalRateLimited", ErrorCategory.LimitsExceeded);
                case KalErrorKind.ServerError: return ("KalServerError", ErrorCategory.ConnectionError);
                case KalErrorKind.Network: return ("KalConnectionFailed", ErrorCategory.ConnectionError);
                case KalErrorKind.Timeout: return ("KalRequestTimedOut", ErrorCategory.OperationTimeout);
                case KalErrorKind.InvalidResponse: return ("KalInvalidResponse", ErrorCategory.InvalidResult);
                default: return ("KalRequestFailed", ErrorCategory.InvalidOperation);
            }
        }
    }
}
