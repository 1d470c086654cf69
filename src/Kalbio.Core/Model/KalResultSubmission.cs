using System;

namespace Kalbio.PowerShell.Model
{
    /// <summary>What Submit-KalRegistrationResult sent: one results submission of a registration file.</summary>
    public sealed class KalResultSubmission
    {
        public KalResultSubmission(string operationId, string fileId, string status, int recordCount, long bytes, TimeSpan elapsed, DateTimeOffset submittedAt)
        {
            OperationId = operationId;
            FileId = fileId;
            Status = status;
            RecordCount = recordCount;
            Bytes = bytes;
            Elapsed = elapsed;
            SubmittedAt = submittedAt;
        }

        public string OperationId { get; }

        public string FileId { get; }

        /// <summary>The overall status sent: success or error.</summary>
        public string Status { get; }

        public int RecordCount { get; }

        /// <summary>The size of the JSON body in bytes.</summary>
        public long Bytes { get; }

        /// <summary>From the start of the command (the first record in) to the server's answer.</summary>
        public TimeSpan Elapsed { get; }

        public DateTimeOffset SubmittedAt { get; }

        public override string ToString() => $"{RecordCount} record results for file {FileId} in operation {OperationId}: {Status}";
    }
}
