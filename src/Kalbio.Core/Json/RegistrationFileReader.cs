using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;
using Kalbio.PowerShell.Model;

namespace Kalbio.Core.Json
{
    /// <summary>Reads the API's registration-file JSON into <see cref="RegistrationFile"/>; unknown fields are ignored.</summary>
    internal static class RegistrationFileReader
    {
        /// <exception cref="FormatException">The JSON is not a registration file (the caller reports it as an invalid response).</exception>
        public static RegistrationFile Read(JsonElement element)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"expected a registration file (a JSON object) but found {Describe(element.ValueKind)}");
            }

            string? message = Text(element, "message");
            string? errorMessage = Text(element, "error_message");
            return new RegistrationFile
            {
                Id = Text(element, "id"),
                WorkspaceId = Text(element, "workspace_id"),
                OperationId = Text(element, "operation_id") ?? string.Empty,
                FileId = Text(element, "file_id") ?? string.Empty,
                Status = Text(element, "status"),
                Message = message ?? errorMessage,
                ErrorMessage = errorMessage,
                CreatedBy = Text(element, "created_by"),
                LastUpdatedBy = Text(element, "last_updated_by"),
                CreatedAt = Date(element, "created_at"),
                UpdatedAt = Date(element, "updated_at"),
                RecordErrors = RecordErrors(element),
            };
        }

        public static List<RegistrationFile> ReadList(JsonElement element)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException($"expected a JSON array of registration files but found {Describe(element.ValueKind)}");
            }

            var list = new List<RegistrationFile>(element.GetArrayLength());
            foreach (JsonElement item in element.EnumerateArray())
            {
                list.Add(Read(item));
            }

            return list;
        }

        private static RegistrationRecordError[] RecordErrors(JsonElement element)
        {
            if (!element.TryGetProperty("record_errors", out JsonElement errors) || errors.ValueKind != JsonValueKind.Array)
            {
                return Array.Empty<RegistrationRecordError>();
            }

            var list = new List<RegistrationRecordError>(errors.GetArrayLength());
            foreach (JsonElement error in errors.EnumerateArray())
            {
                if (error.ValueKind == JsonValueKind.Object)
                {
                    list.Add(new RegistrationRecordError(Text(error, "source_record_id"), Text(error, "status"), Text(error, "error_message")));
                }
            }

            return list.ToArray();
        }

        /// <summary>A string field; a number is taken as its text (ids are opaque); null, absent or any other kind gives null.</summary>
        private static string? Text(JsonElement element, string name)
        {
            if (!element.TryGetProperty(name, out JsonElement value))
            {
                return null;
            }

            switch (value.ValueKind)
            {
                case JsonValueKind.String: return value.GetString();
                case JsonValueKind.Number: return value.GetRawText();
                default: return null;
            }
        }

        private static DateTimeOffset? Date(JsonElement element, string name)
        {
            string? text = Text(element, name);
            if (text != null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date))
            {
                return date;
            }

            return null;
        }

        internal static string Describe(JsonValueKind kind)
        {
            switch (kind)
            {
                case JsonValueKind.Object: return "an object";
                case JsonValueKind.Array: return "an array";
                case JsonValueKind.String: return "a string";
                case JsonValueKind.Number: return "a number";
                case JsonValueKind.True:
                case JsonValueKind.False:
                    return "a boolean";
                case JsonValueKind.Null: return "null";
                default: return "nothing";
            }
        }
    }
}
