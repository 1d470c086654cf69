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
/// </summary>
internal static class ResultsValidator
{
    private const string NullMessage = "must not be null (leave the field out instead)";
    private static readonly HashSet<string> TopLevelFields = ["status", "message", "error_message", "key_field_names", "records"];
    private static readonly HashSet<string> RecordFields = ["record_id", "status", "data", "error_message"];
    private static readonly HashSet<string> StatusFields = ["status", "message"];

    public static ResultsValidation ValidateResults(JsonElement root)
    {
        var result = new ResultsValidation();
        List<ValidationDetail> problems = result.Problems;
        if (root.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new ValidationDetail("$", "must be a JSON object"));
            return result;
        }

        foreach (JsonProperty property in UniqueProperties(root, "", TopLevelFields, problems))
        {
            JsonElement value = property.Value;
            switch (property.Name)
            {
                case "status":
                    if (value.ValueKind == JsonValueKind.String && value.GetString() is "success" or "error")
                    {
                        result.Status = value.GetString();
                    }
                    else
                    {
                        problems.Add(new ValidationDetail("status", "must be \"success\" or \"error\""));
                    }

                    break;
                case "message":
                    result.Message = RequireString(value, "message", problems);
                    break;
                case "error_message":
                    result.ErrorMessage = RequireString(value, "error_message", problems);
                    break;
                case "key_field_names":
                    ValidateKeyFieldNames(value, problems);
                    break;
                case "records":
                    ValidateRecords(value, result);
                    break;
            }
        }

        if (!root.TryGetProperty("status", out _))
        {
            problems.Add(new ValidationDetail("status", "is required"));
        }

        return result;
    }

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

    private static void ValidateKeyFieldNames(JsonElement value, List<ValidationDetail> problems)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            problems.Add(new ValidationDetail("key_field_names", "must be an array of strings"));
            return;
        }

        int index = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Null)
            {
                problems.Add(new ValidationDetail($"key_field_names[{index}]", "must not be null"));
            }
            else if (item.ValueKind != JsonValueKind.String)
            {
                problems.Add(new ValidationDetail($"key_field_names[{index}]", "must be a string"));
            }

            index++;
        }
    }

    private static void ValidateRecords(JsonElement value, ResultsValidation result)
    {
        List<ValidationDetail> problems = result.Problems;
        if (value.ValueKind != JsonValueKind.Array)
        {
            problems.Add(new ValidationDetail("records", "must be an array"));
            return;
        }

        var firstIndexById = new Dictionary<string, int>(StringComparer.Ordinal);
        int index = 0;
        foreach (JsonElement record in value.EnumerateArray())
        {
            string prefix = $"records[{index}]";
            if (record.ValueKind != JsonValueKind.Object)
            {
                problems.Add(new ValidationDetail(prefix, record.ValueKind == JsonValueKind.Null ? "must not be null" : "must be an object"));
                index++;
                continue;
            }

            string? recordId = null;
            string? status = null;
            string? errorMessage = null;
            foreach (JsonProperty property in UniqueProperties(record, prefix + ".", RecordFields, problems))
            {
                string field = $"{prefix}.{property.Name}";
                switch (property.Name)
                {
                    case "record_id":
                        recordId = RequireNonEmptyString(property.Value, field, problems);
                        break;
                    case "status":
                        status = RequireNonEmptyString(property.Value, field, problems);
                        break;
                    case "data":
                        if (property.Value.ValueKind != JsonValueKind.Object)
                        {
                            problems.Add(new ValidationDetail(field, "must be an object"));
                        }

                        break;
                    case "error_message":
                        errorMessage = RequireString(property.Value, field, problems);
                        break;
                }
            }

            if (!record.TryGetProperty("record_id", out _))
            {
                problems.Add(new ValidationDetail(prefix + ".record_id", "is required"));
            }

            if (!record.TryGetProperty("status", out _))
            {
                problems.Add(new ValidationDetail(prefix + ".status", "is required"));
            }

            if (recordId is not null)
            {
                if (firstIndexById.TryGetValue(recordId, out int first))
                {
                    problems.Add(new ValidationDetail(prefix + ".record_id", $"duplicates records[{first}].record_id '{recordId}'"));
                }
                else
                {
                    firstIndexById[recordId] = index;
                }
            }

            if (recordId is not null && status is not null && (errorMessage is not null || status is "error" or "not_found"))
            {
                result.RecordErrors.Add(new RecordError(recordId, status, errorMessage));
            }

            index++;
        }

        result.RecordCount = index;
    }

    /// <summary>The properties that are known, not repeated and not null; the others are reported.</summary>
    private static List<JsonProperty> UniqueProperties(JsonElement obj, string prefix, HashSet<string> known, List<ValidationDetail> problems)
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

    private static string? RequireString(JsonElement value, string field, List<ValidationDetail> problems)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        problems.Add(new ValidationDetail(field, "must be a string"));
        return null;
    }

    private static string? RequireNonEmptyString(JsonElement value, string field, List<ValidationDetail> problems)
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
