using System;
using System.Collections;
using System.Globalization;
using System.Text;

namespace Kalbio.PowerShell.Model
{
    /// <summary>
    /// The result for one record of a registration file: its id, what happened to it (matched, not_found, created,
    /// error, ...), optional data (field name -> value, in order) and an optional error message.
    /// </summary>
    public sealed class KalRecordResult
    {
        public KalRecordResult()
        {
        }

        public KalRecordResult(string recordId, string status, IDictionary? data = null, string? errorMessage = null)
        {
            RecordId = recordId;
            Status = status;
            Data = data;
            ErrorMessage = errorMessage;
        }

        public string? RecordId { get; set; }

        /// <summary>Free text in the API; the usual values are matched, not_found, created and error.</summary>
        public string? Status { get; set; }

        /// <summary>Field name -> value; sent as the record's <c>data</c> object, in this order, when not null.</summary>
        public IDictionary? Data { get; set; }

        public string? ErrorMessage { get; set; }

        /// <summary>An ordered, case-insensitive dictionary like PowerShell's <c>[ordered]@{}</c>.</summary>
        public static KalRecordData NewData(int capacity = 4) => new KalRecordData(capacity);

        /// <summary>The data as <c>key=value; ...</c> for tables: nested values shortened, at most about 80 characters.</summary>
        public string DataText()
        {
            if (Data is null)
            {
                return string.Empty;
            }

            var text = new StringBuilder();
            AppendEntries(text, Data, 0);
            return text.Length <= DataTextLength ? text.ToString() : text.ToString(0, DataTextLength - 1) + "…";
        }

        private const int DataTextLength = 80;

        private static void AppendEntries(StringBuilder text, IDictionary dictionary, int depth)
        {
            bool first = true;
            foreach (DictionaryEntry entry in dictionary)
            {
                if (text.Length > DataTextLength)
                {
                    return;
                }

                text.Append(first ? string.Empty : "; ").Append(entry.Key).Append('=');
                AppendValue(text, entry.Value, depth);
                first = false;
            }
        }

        private static void AppendValue(StringBuilder text, object? value, int depth)
        {
            switch (value)
            {
                case null:
                    return;
                case string s:
                    text.Append(s);
                    return;
                case IDictionary nested:
                    text.Append('{');
                    if (depth < 2)
                    {
                        AppendEntries(text, nested, depth + 1);
                    }
                    else
                    {
                        text.Append('…');
                    }

                    text.Append('}');
                    return;
                case IEnumerable items:
                    text.Append('[');
                    bool first = true;
                    foreach (object? item in items)
                    {
                        if (text.Length > DataTextLength || depth >= 2)
                        {
                            text.Append('…');
                            break;
                        }

                        text.Append(first ? string.Empty : ", ");
                        AppendValue(text, item, depth + 1);
                        first = false;
                    }

                    text.Append(']');
                    return;
                case IFormattable formattable:
                    text.Append(formattable.ToString(null, CultureInfo.InvariantCulture));
                    return;
                default:
                    text.Append(value);
                    return;
            }
        }

        public override string ToString() => $"{RecordId}: {Status}";
    }
}
