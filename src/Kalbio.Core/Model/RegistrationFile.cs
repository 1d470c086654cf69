using System;

namespace Kalbio.PowerShell.Model
{
    /// <summary>A file being registered into an operation: its lifecycle status, message and, in listings, its record errors.</summary>
    public sealed class RegistrationFile
    {
        public string? Id { get; set; }

        public string? WorkspaceId { get; set; }

        public string OperationId { get; set; } = string.Empty;

        public string FileId { get; set; } = string.Empty;

        public string? Status { get; set; }

        /// <summary>The server's message; older servers fill only <c>error_message</c>, which is used when <c>message</c> is null.</summary>
        public string? Message { get; set; }

        /// <summary>The raw legacy <c>error_message</c> field.</summary>
        public string? ErrorMessage { get; set; }

        public string? CreatedBy { get; set; }

        public string? LastUpdatedBy { get; set; }

        public DateTimeOffset? CreatedAt { get; set; }

        public DateTimeOffset? UpdatedAt { get; set; }

        /// <summary>Filled by listings (Get-KalRegistration) when the registration failed for some records; empty otherwise.</summary>
        public RegistrationRecordError[] RecordErrors { get; set; } = Array.Empty<RegistrationRecordError>();

        public override string ToString() => $"{OperationId}/{FileId}: {Status}";
    }
}
