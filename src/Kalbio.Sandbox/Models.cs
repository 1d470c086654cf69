using System;
using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace Kalbio.Sandbox;

// Public snapshots of what the sandbox holds and saw. They are serialised as snake_case JSON by the
// control plane (/_sandbox/...), so in-process tests and HTTP clients see the same data.

public sealed record RecordError(string SourceRecordId, string Status, string? ErrorMessage);

public sealed class RegistrationFile
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public required string OperationId { get; init; }
    public required string FileId { get; init; }
    public required string Status { get; init; }
    public string? Message { get; init; }
    public string? ErrorMessage { get; init; }
    public required string CreatedBy { get; init; }
    public required string LastUpdatedBy { get; init; }
    public required DateTime CreatedAt { get; init; }
    public required DateTime UpdatedAt { get; init; }

    /// <summary>Present in listings (GET .../registrations), absent from the register answer.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<RecordError>? RecordErrors { get; init; }
}

public sealed record RequestLogEntry(
    string Method,
    string Path,
    string Query,
    IReadOnlyDictionary<string, string> Headers,
    string? Body,
    long BodyLength,
    int Status,
    DateTime At);

public sealed record GrantLogEntry(string GrantType, string Outcome, int Status, DateTime At);

public sealed record GrantStats(
    int ClientCredentials,
    int RefreshToken,
    int Failed,
    int FamiliesRevoked,
    IReadOnlyList<GrantLogEntry> Log);

public sealed record SubmissionRecord(
    string OperationId,
    string FileId,
    string? Body,
    long BodyLength,
    int RecordCount,
    string Sha256,
    DateTime At);

public sealed record WebhookDelivery(string Url, int? Status, string? Error, string Body, DateTime At);

public sealed record SeededFileInfo(string FileId, long Length, string Sha256);

public sealed record FileHash(string Sha256, long Length);

public sealed record ValidationDetail(string Field, string Message);

public sealed record SandboxConfig(
    int AccessTokenLifetimeSeconds,
    string? WebhookUrl,
    IReadOnlyDictionary<string, string> WebhookHeaders);

/// <summary>A file to seed: exactly one of Content, ContentBase64 or GeneratedSize.</summary>
public sealed class SeedFileRequest
{
    public string FileId { get; set; } = "";
    public string? FileName { get; set; }
    public string? ActivityId { get; set; }
    /// <summary>UTF-8 text content.</summary>
    public string? Content { get; set; }
    public string? ContentBase64 { get; set; }
    /// <summary>Size of a generated (deterministic pseudo-random) file in bytes.</summary>
    public long? GeneratedSize { get; set; }
    public int? Seed { get; set; }
    public IReadOnlyList<string>? RecordIds { get; set; }
}

/// <summary>A queued fault for non-control requests. Times is the remaining count.</summary>
public sealed class FaultSpec
{
    public string? Method { get; set; }
    public string? PathPrefix { get; set; }
    public int Times { get; set; } = 1;
    public int? Status { get; set; }
    public string? RetryAfter { get; set; }
    /// <summary>A Location header, to answer with a redirect (with a 3xx status).</summary>
    public string? Location { get; set; }
    public string? Body { get; set; }
    public string? ContentType { get; set; }
    public int? DelayMs { get; set; }
    public long? DropAfterBytes { get; set; }
    /// <summary>Sends the status, headers and this many body bytes, then nothing more until the client hangs up.</summary>
    public long? StallAfterBytes { get; set; }
    /// <summary>Sends the body at about this many bytes a second.</summary>
    public long? BytesPerSecond { get; set; }
    public bool CloseConnection { get; set; }

    internal FaultSpec Clone() => (FaultSpec)MemberwiseClone();
}

public enum TokenRevocation
{
    Access,
    Refresh,
    All,
}

/// <summary>A request the sandbox refuses; the control plane answers it as <c>{"code","message"}</c>.</summary>
public sealed class SandboxException : Exception
{
    public SandboxException(int statusCode, string code, string message)
        : base(message)
    {
        StatusCode = statusCode;
        Code = code;
    }

    public int StatusCode { get; }
    public string Code { get; }
}
