using System;
using System.Collections.Generic;
using System.Text.Json;

namespace Kalbio.Sandbox;

internal sealed class ResultsValidation
{
    public List<ValidationDetail> Problems { get; } = new();
    public string? Status { get; set; }
    public string? Message { get; set; }
    public string? ErrorMessage { get; set; }
    public int RecordCount { get; set; }
    public List<RecordError> RecordErrors { get; } = new();
}

/// <summary>
/// Strict checks of request bodies: every problem is listed, unknown fields and nulls are refused
/// (a client must leave a field out rather than send null), except inside a record's <c>data</c>.
/// A results body is checked as it streams in, by <see cref="ResultsBodyValidator"/>.
/// </summary>
internal static class ResultsValidator
{
    internal const string NullMessage = "must not be null (leave the field out instead)";
    private static readonly HashSet<string> StatusFields = ["status", "message"];

    /// <summary>Validates a status push; returns the problems, and the status and message when valid.</summary>
    public static List<ValidationDetail> ValidateStatus(JsonElement root, out string? status, out string? message)
    {
        var problems = new List<ValidationDetail>();
        status = null;
        message = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new ValidationDetail("$", "must be a JSON object"));
            return problems;
        }

        foreach (JsonProperty property in UniqueProperties(root, "", StatusFields, problems))
        {
            if (property.Name == "status")
            {
                string? value = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                if (value is not null && Array.IndexOf(SandboxState.Statuses, value) >= 0)
                {
                    status = value;
                }
                else
                {
                    problems.Add(new ValidationDetail("status", "must be one of " + string.Join(", ", SandboxState.Statuses)));
                }
            }
            else
            {
                message = RequireString(property.Value, "message", problems);
            }
        }

        if (!root.TryGetProperty("status", out _))
        {
            problems.Add(new ValidationDetail("status", "is required"));
        }

        return problems;
    }

    public static string Describe(ValidationDetail detail) =>
        detail.Field == "$" ? $"The body {detail.Message}" : $"{detail.Field} {detail.Message}";

    /// <summary>The properties that are known, not repeated and not null; the others are reported.</summary>
    internal static List<JsonProperty> UniqueProperties(JsonElement obj, string prefix, HashSet<string> known, List<ValidationDetail> problems)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var accepted = new List<JsonProperty>();
        foreach (JsonProperty property in obj.EnumerateObject())
        {
            string field = prefix + property.Name;
            if (!known.Contains(property.Name))
            {
                problems.Add(new ValidationDetail(field, "is not a known field"));
            }
            else if (!seen.Add(property.Name))
            {
                problems.Add(new ValidationDetail(field, "is given more than once"));
            }
            else if (property.Value.ValueKind == JsonValueKind.Null)
            {
                problems.Add(new ValidationDetail(field, NullMessage));
            }
            else
            {
                accepted.Add(property);
            }
        }

        return accepted;
    }

    internal static string? RequireString(JsonElement value, string field, List<ValidationDetail> problems)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        problems.Add(new ValidationDetail(field, "must be a string"));
        return null;
    }

    internal static string? RequireNonEmptyString(JsonElement value, string field, List<ValidationDetail> problems)
    {
        string? text = RequireString(value, field, problems);
        if (text is not null && text.Length == 0)
        {
            problems.Add(new ValidationDetail(field, "must not be empty"));
            return null;
        }

        return text;
    }
}
