namespace Kalbio.PowerShell.Model
{
    /// <summary>One record of a registration file that did not register cleanly, as the server reports it.</summary>
    public sealed class RegistrationRecordError
    {
        public RegistrationRecordError(string? sourceRecordId, string? status, string? errorMessage)
        {
            SourceRecordId = sourceRecordId;
            Status = status;
            ErrorMessage = errorMessage;
        }

        public string? SourceRecordId { get; }

        public string? Status { get; }

        public string? ErrorMessage { get; }

        public override string ToString() => $"{SourceRecordId}: {Status}{(ErrorMessage is null ? string.Empty : " (" + ErrorMessage + ")")}";
    }
}
