using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kalbio.Core.Http
{
    /// <summary>Pulls the human-readable explanation out of an error body: JSON message and details, OAuth errors, or text.</summary>
    internal static class ServerMessage
    {
        private const int MaximumTextLength = 300;
        private static readonly Regex Whitespace = new Regex("\\s+", RegexOptions.Compiled);
        private static readonly Regex HtmlTitle = new Regex("<title>(.*?)</title>", RegexOptions.IgnoreCase | RegexOptions.Singleline | RegexOptions.Compiled);

        public static string? Extract(string? body)
        {
            if (string.IsNullOrWhiteSpace(body))
            {
                return null;
            }

            string trimmed = body!.TrimStart();
            if (trimmed.StartsWith("{", StringComparison.Ordinal))
            {
                try
                {
                    using JsonDocument document = JsonDocument.Parse(trimmed);
                    string? fromJson = FromJson(document.RootElement);
                    if (fromJson != null)
                    {
                        return fromJson;
                    }
                }
                catch (JsonException)
                {
                    // Not JSON after all: fall through to text.
                }
            }

            Match title = HtmlTitle.Match(trimmed);
            return Shorten(title.Success ? title.Groups[1].Value : trimmed);
        }

        public static string Shorten(string text)
        {
            string collapsed = Whitespace.Replace(text, " ").Trim();
            return collapsed.Length <= MaximumTextLength ? collapsed : collapsed.Substring(0, MaximumTextLength) + "…";
        }

        private static string? FromJson(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            string? message = Text(root, "message") ?? Text(root, "error_description") ?? Text(root, "error_message") ?? Text(root, "detail") ?? Text(root, "title") ?? Text(root, "error");
            var parts = new List<string>();
            if (message != null)
            {
                parts.Add(message);
            }

            foreach (string name in new[] { "details", "errors" })
            {
                if (root.TryGetProperty(name, out JsonElement details))
                {
                    // A detail the main message already states (often the first one) is not repeated.
                    parts.AddRange(Details(details).Where(d => message is null || !message.EndsWith(DetailMessage(d), StringComparison.OrdinalIgnoreCase)));
                }
            }

            if (parts.Count == 0)
            {
                return null;
            }

            var text = new StringBuilder(parts[0]);
            IEnumerable<string> rest = parts.Skip(1).Where(p => !string.Equals(p, parts[0], StringComparison.Ordinal)).Take(10);
            string joined = string.Join("; ", rest);
            if (joined.Length > 0)
            {
                text.Append(" (").Append(joined).Append(')');
            }

            return text.ToString();
        }

        private static IEnumerable<string> Details(JsonElement details)
        {
            if (details.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement item in details.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String)
                    {
                        yield return item.GetString()!;
                    }
                    else if (item.ValueKind == JsonValueKind.Object)
                    {
                        string? field = Text(item, "field") ?? Text(item, "loc") ?? Text(item, "path");
                        string? message = Text(item, "message") ?? Text(item, "msg");
                        if (message != null)
                        {
                            yield return field is null ? message : field + ": " + message;
                        }
                    }
                }
            }
            else if (details.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty property in details.EnumerateObject())
                {
                    yield return property.Name + ": " + (property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : property.Value.GetRawText());
                }
            }
        }

        private static string DetailMessage(string detail)
        {
            int colon = detail.IndexOf(": ", StringComparison.Ordinal);
            return colon < 0 ? detail : detail.Substring(colon + 2);
        }

        private static string? Text(JsonElement element, string name) =>
            element.TryGetProperty(name, out JsonElement value)
                ? value.ValueKind == JsonValueKind.String ? value.GetString()
                : value.ValueKind == JsonValueKind.Array ? string.Join(".", value.EnumerateArray().Select(v => v.ToString()))
                : null
                : null;
    }
}
