using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.Core.Json
{
    internal enum JsonCompleteness
    {
        Complete,
        Incomplete,
        Invalid,
    }

    /// <summary>
    /// Reads <c>registration_submitted</c> webhook events. The envelope is not published, so each field is taken from
    /// the top level or, failing that, from a <c>data</c> object; names match in snake_case, camelCase or PascalCase;
    /// unknown fields are ignored. Anything that cannot be an event is a <see cref="KalInputException"/>.
    /// </summary>
    internal static class RegistrationEventReader
    {
        public const string InvalidJsonErrorId = "InvalidWebhookEventJson";
        public const string InvalidEventErrorId = "InvalidWebhookEvent";
        public const string MissingFieldErrorId = "WebhookEventMissingField";

        private static readonly JsonDocumentOptions DocumentOptions = new JsonDocumentOptions { MaxDepth = 256, AllowTrailingCommas = false };

        /// <summary>Parses JSON text holding one event object or an array of them.</summary>
        public static List<RegistrationEvent> Parse(string json) => Parse(Encoding.UTF8.GetBytes(json));

        public static List<RegistrationEvent> Parse(ReadOnlyMemory<byte> utf8Json)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(utf8Json, DocumentOptions);
            }
            catch (JsonException ex)
            {
                // Stryker disable once Conditional : JsonDocument.Parse's exceptions always carry a line and position
                string where = ex.LineNumber.HasValue ? $" (line {ex.LineNumber + 1}, position {ex.BytePositionInLine + 1})" : string.Empty;
                string reason = utf8Json.Length == 0 ? "it is empty" : $"it is not valid JSON{where}";
                throw new KalInputException(InvalidJsonErrorId, $"The webhook event cannot be read: {reason}.", null, null, ex);
            }

            using (document)
            {
                JsonElement root = document.RootElement;
                var events = new List<RegistrationEvent>();
                if (root.ValueKind == JsonValueKind.Array)
                {
                    int index = 0;
                    foreach (JsonElement item in root.EnumerateArray())
                    {
                        events.Add(Read(item, $"[{index++}]"));
                    }
                }
                else
                {
                    events.Add(Read(root, null));
                }

                return events;
            }
        }

        /// <summary>
        /// Whether the text is one whole JSON value, the start of one (more may follow, as with a document sent line by
        /// line), or something that can never become one.
        /// </summary>
        public static JsonCompleteness Classify(string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            if (IsComplete(bytes))
            {
                return JsonCompleteness.Complete;
            }

            try
            {
                var reader = new Utf8JsonReader(bytes, isFinalBlock: false, state: new JsonReaderState(new JsonReaderOptions { MaxDepth = 256 }));
                while (reader.Read())
                {
                }

                return JsonCompleteness.Incomplete;
            }
            catch (JsonException)
            {
                return JsonCompleteness.Invalid;
            }
        }

        private static bool IsComplete(byte[] bytes)
        {
            try
            {
                var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 256 });
                while (reader.Read())
                {
                }

                return reader.BytesConsumed > 0;
            }
            catch (JsonException)
            {
                return false;
            }
        }

        public static RegistrationEvent Read(JsonElement element, string? position = null)
        {
            string at = position is null ? "The webhook event" : $"The webhook event at {position}";
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw new KalInputException(InvalidEventErrorId, $"{at} is {RegistrationFileReader.Describe(element.ValueKind)}, not a JSON object.");
            }

            var fields = new Fields(element);
            var result = new RegistrationEvent
            {
                EventType = fields.Text(at, "event_type") ?? fields.Text(at, "type"),
                EventId = fields.Text(at, "event_id"),
                CreatedAt = fields.Date(at, "created_at"),
                OperationId = fields.Id(at, "operation_id"),
                FileId = fields.Id(at, "file_id"),
                FileName = fields.Text(at, "file_name"),
                FileUrl = fields.Text(at, "file_url"),
                ActivityId = fields.OptionalId(at, "activity_id"),
                RecordIds = fields.RecordIds(at, "record_ids"),
            };
            return result;
        }

        /// <summary>The event's fields: the top level first, then a nested <c>data</c> object.</summary>
        private sealed class Fields
        {
            private readonly Dictionary<string, KeyValuePair<string, JsonElement>> _byName = new Dictionary<string, KeyValuePair<string, JsonElement>>(StringComparer.Ordinal);
            private readonly List<string> _seen = new List<string>();

            public Fields(JsonElement root)
            {
                Add(root, string.Empty);
                if (TryGet("data", out KeyValuePair<string, JsonElement> data) && data.Value.ValueKind == JsonValueKind.Object)
                {
                    Add(data.Value, data.Key + ".");
                }
            }

            public string? Text(string at, string name)
            {
                if (!TryGet(name, out KeyValuePair<string, JsonElement> field))
                {
                    return null;
                }

                switch (field.Value.ValueKind)
                {
                    case JsonValueKind.String:
                        return field.Value.GetString();
                    case JsonValueKind.Number:
                        return field.Value.GetRawText();
                    case JsonValueKind.Null:
                        return null;
                    default:
                        throw new KalInputException(InvalidEventErrorId, $"{at} has {field.Key} as {RegistrationFileReader.Describe(field.Value.ValueKind)}; it must be a string.");
                }
            }

            public DateTimeOffset? Date(string at, string name)
            {
                string? text = Text(at, name);
                return text != null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date) ? date : (DateTimeOffset?)null;
            }

            public string Id(string at, string name)
            {
                string? id = OptionalId(at, name);
                if (id is null)
                {
                    string found = _seen.Count == 0 ? "no fields at all" : "only " + string.Join(", ", _seen);
                    throw new KalInputException(
                        MissingFieldErrorId,
                        $"{at} has no {name} (looked for it at the top level and under 'data'; found {found}). A registration_submitted event must name the operation and the file.");
                }

                return id;
            }

            public string? OptionalId(string at, string name)
            {
                string? id = Text(at, name);
                if (string.IsNullOrEmpty(id))
                {
                    return null;
                }

                try
                {
                    return KalIds.Validate(id, name);
                }
                catch (KalInputException ex)
                {
                    throw new KalInputException(InvalidEventErrorId, $"{at} has an unusable {name}: {ex.Message}", null, id, ex);
                }
            }

            public string[] RecordIds(string at, string name)
            {
                if (!TryGet(name, out KeyValuePair<string, JsonElement> field))
                {
                    return Array.Empty<string>();
                }

                JsonElement value = field.Value;
                switch (value.ValueKind)
                {
                    case JsonValueKind.Null:
                        return Array.Empty<string>();
                    case JsonValueKind.String:
                        return new[] { value.GetString()! };
                    case JsonValueKind.Array:
                        var ids = new List<string>(value.GetArrayLength());
                        int index = 0;
                        foreach (JsonElement item in value.EnumerateArray())
                        {
                            if (item.ValueKind == JsonValueKind.String && item.GetString()!.Length > 0)
                            {
                                ids.Add(item.GetString()!);
                            }
                            else if (item.ValueKind == JsonValueKind.Number)
                            {
                                ids.Add(item.GetRawText());
                            }
                            else
                            {
                                throw new KalInputException(InvalidEventErrorId, $"{at} has {field.Key}[{index}] as {(item.ValueKind == JsonValueKind.String ? "an empty string" : RegistrationFileReader.Describe(item.ValueKind))}; record ids must be non-empty strings.");
                            }

                            index++;
                        }

                        return ids.ToArray();
                    default:
                        throw new KalInputException(InvalidEventErrorId, $"{at} has {field.Key} as {RegistrationFileReader.Describe(value.ValueKind)}; it must be an array of record id strings.");
                }
            }

            private bool TryGet(string name, out KeyValuePair<string, JsonElement> field) => _byName.TryGetValue(Normalize(name), out field);

            private void Add(JsonElement element, string prefix)
            {
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    string key = Normalize(property.Name);
                    if (!_byName.TryGetValue(key, out KeyValuePair<string, JsonElement> existing) || existing.Value.ValueKind == JsonValueKind.Null)
                    {
                        _byName[key] = new KeyValuePair<string, JsonElement>(prefix + property.Name, property.Value);
                    }

                    if (_seen.Count < 12)
                    {
                        _seen.Add(prefix + property.Name);
                    }
                }
            }

            /// <summary>file_id, fileId and FileId are one name.</summary>
            private static string Normalize(string name)
            {
                var text = new StringBuilder(name.Length);
                foreach (char c in name)
                {
                    if (c != '_' && c != '-')
                    {
                        text.Append(char.ToLowerInvariant(c));
                    }
                }

                return text.ToString();
            }
        }
    }
}
