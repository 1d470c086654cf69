using System;

namespace Kalbio.PowerShell.Model
{
    /// <summary>
    /// A <c>registration_submitted</c> webhook event. Its property names bind by name to Get-KalFile (FileId,
    /// FileName, ActivityId, FileUrl) and to the registration cmdlets (OperationId, FileId); <see cref="RecordIds"/>
    /// feeds <c>Submit-KalRegistrationResult -ExpectedRecordId</c>.
    /// </summary>
    public sealed class RegistrationEvent
    {
        /// <summary>The event's type (<c>event_type</c>, or <c>type</c>), e.g. <c>registration_submitted</c>; null when the sender gives none.</summary>
        public string? EventType { get; set; }

        /// <summary>The sender's id for this event, when it gives one: deliveries are at least once, so this identifies repeats.</summary>
        public string? EventId { get; set; }

        public DateTimeOffset? CreatedAt { get; set; }

        public string OperationId { get; set; } = string.Empty;

        public string FileId { get; set; } = string.Empty;

        /// <summary>The name to save the file under (server-supplied: Get-KalFile keeps only its last path segment).</summary>
        public string? FileName { get; set; }

        /// <summary>
        /// Where to download the file, exactly as the event gave it (kept as text: a URI object would unescape it).
        /// It may point at the API or at another host; Get-KalFile sends the token only to the API.
        /// </summary>
        public string? FileUrl { get; set; }

        public string? ActivityId { get; set; }

        public string[] RecordIds { get; set; } = Array.Empty<string>();

        /// <summary>How many record ids the event names (the count its views show).</summary>
        public int RecordCount => RecordIds.Length;

        public override string ToString() => $"{EventType ?? "event"}: file {FileId} in operation {OperationId}";
    }
}
