using System;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// An operation, and usually a file in it, with ids checked once, here, before anything is sent: every registration
    /// call takes one, so no caller validates the ids again.
    /// </summary>
    internal sealed class RegistrationRef
    {
        private RegistrationRef(string operationId, string? fileId)
        {
            OperationId = operationId;
            FileId = fileId;
        }

        public string OperationId { get; }

        /// <summary>Null only for a reference to the operation as a whole (<see cref="ToOperation"/>).</summary>
        public string? FileId { get; }

        internal string RequiredFileId => FileId ?? throw new InvalidOperationException("This call needs a file id; the reference names only an operation.");

        /// <summary>A file in an operation. Throws <see cref="KalInputException"/> (InvalidId) for either id.</summary>
        public static RegistrationRef To(string? operationId, string? fileId) =>
            new RegistrationRef(KalIds.Validate(operationId, "OperationId"), KalIds.Validate(fileId, "FileId"));

        /// <summary>An operation, optionally narrowed to one file (null or empty: none).</summary>
        public static RegistrationRef ToOperation(string? operationId, string? fileId = null) =>
            new RegistrationRef(KalIds.Validate(operationId, "OperationId"), string.IsNullOrEmpty(fileId) ? null : KalIds.Validate(fileId, "FileId"));

        public override string ToString() => FileId is null ? $"operation '{OperationId}'" : $"file '{FileId}' in operation '{OperationId}'";
    }
}
