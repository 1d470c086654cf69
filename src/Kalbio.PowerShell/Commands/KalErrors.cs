using System;
using System.Management.Automation;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Turns the core's exceptions into ErrorRecords with stable ids, the right category and the server's message. The
    /// core states the fact and its reason; the advice that names a cmdlet parameter is added here.
    /// </summary>
    internal static class KalErrors
    {
        /// <param name="advice">This cmdlet's own advice, instead of the general one for the exception's reason.</param>
        public static ErrorRecord ToErrorRecord(Exception exception, object? target, string? notFoundErrorId = null, string? advice = null)
        {
            switch (Advised(exception, advice))
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

        /// <summary>
        /// The exception with the advice for its reason appended, in the terms of this module's parameters; the
        /// exception itself when the core's message is the whole story.
        /// </summary>
        public static Exception Advised(Exception exception, string? advice = null)
        {
            switch (exception)
            {
                case KalInputException input when Appended(input.Message, advice ?? AdviceFor(input)) is string message:
                    return input.WithMessage(message);
                case KalApiException api when Appended(api.Message, advice ?? AdviceFor(api.Reason)) is string message:
                    return api.WithMessage(message);
                case DestinationExistsException exists when Appended(exists.Message, advice ?? "Remove it, choose another destination or file name, or leave out -NoClobber to replace it.") is string message:
                    return exists.WithMessage(message);
                default:
                    return exception;
            }
        }

        /// <summary>The warning for a risky connection setting, naming the parameter that chose it.</summary>
        public static string WarningFor(SecurityRisk risk, Uri baseUri) =>
            risk == SecurityRisk.CertificateNotChecked
                ? $"-SkipCertificateCheck is set: the TLS certificate of {baseUri} is not checked, so anyone on the network path could read the client secret and the data. Use it only for a private deployment you trust."
                : $"{baseUri} is plain http: the client secret, tokens and data cross the network unencrypted. Use https unless this is a test server.";

        /// <summary>The message with the advice added; null when there is none, or it is there already.</summary>
        private static string? Appended(string message, string? advice) =>
            advice is null || message.EndsWith(advice, StringComparison.Ordinal) ? null : message + " " + advice;

        private static string? AdviceFor(KalInputException input)
        {
            switch (input.ErrorId)
            {
                case "MissingClientId":
                    return $"Give -ClientId, a -Credential whose user name is the client id, or set {KalConnectionOptions.ClientIdVariable}.";
                case "MissingClientSecret":
                    return $"Give -ClientSecret, a -Credential, or set {KalConnectionOptions.ClientSecretVariable}.";
                case "IncompleteEnvironmentCredentials":
                    return "Set both, or run Connect-KalApi.";
                case "BodyNotAllowed":
                    return "Give its parameters with -Query instead.";
                case "InvalidFileName":
                    return input.ParamName == "FileId" ? "Give -FileName." : "Give another -FileName.";
                case "DataPropertyNotFound":
                    return "Check the names given to -DataProperty.";
                case "ResultsFileColumnMissing":
                    return input.ParamName == "DataProperty" ? "Add the column, or check -DataProperty and -Delimiter." : "Add the column, or check -Delimiter.";
                default:
                    return null;
            }
        }

        private static string? AdviceFor(KalApiReason reason)
        {
            switch (reason)
            {
                case KalApiReason.NoAnswerInTime:
                    return "If it is just slow, connect with a larger -TimeoutSec.";
                case KalApiReason.CertificateRejected:
                    return "For a private deployment with its own certificate, trust that certificate, or connect with -SkipCertificateCheck.";
                case KalApiReason.BodyNeitherJsonNorText:
                    return "Save it with -OutFile, or read it with -Raw.";
                case KalApiReason.BodyNotJson:
                    return "Use -Raw to get the text as it is.";
                default:
                    return null;
            }
        }

        /// <summary>What to do about a failed call, when there is something general to say; null otherwise.</summary>
        public static string? RecommendedActionFor(KalApiException api)
        {
            switch (api.Kind)
            {
                case KalErrorKind.Authentication:
                    return "Check the client id and secret, then run Connect-KalApi again.";
                case KalErrorKind.Network when api.Reason == KalApiReason.ServerUnreachable:
                    return "Check the address and that the server is up. To use the local sandbox (build.ps1 -Task Sandbox), pass -BaseUri http://127.0.0.1:5080 to Connect-KalApi or set KALEIDOSCOPE_API_URL to it.";
                default:
                    return null;
            }
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
