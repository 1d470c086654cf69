using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Json
{
    /// <summary>
    /// Writes .NET values as JSON with their JSON types kept (numbers, booleans, null, dates as ISO 8601, nested
    /// objects and arrays) and no depth truncation. Host-specific objects are first passed through an adapter, so
    /// this class knows nothing of PowerShell. A value that has no JSON form is an error naming where it was.
    /// </summary>
    internal sealed class JsonValueWriter
    {
        public const int MaximumDepth = 256;

        public static readonly JsonWriterOptions WriterOptions = new JsonWriterOptions
        {
            // Non-ASCII text is written as UTF-8, not \u escapes; the JSON is never embedded in HTML.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            MaxDepth = MaximumDepth + 8,
        };

        private readonly Func<object, object?>? _adapt;
        private readonly List<object> _path = new List<object>();

        /// <param name="adapt">Turns a host object into a plain value, an <see cref="IDictionary"/>, a <see cref="JsonObjectView"/> or a sequence.</param>
        public JsonValueWriter(Func<object, object?>? adapt = null) => _adapt = adapt;

        /// <summary>Writes <paramref name="value"/>; on failure the exception names <paramref name="rootName"/> and the path below it.</summary>
        [MethodImpl(HotPath.Optimize)]
        public void Write(Utf8JsonWriter writer, object? value, string rootName)
        {
            _path.Clear();
            _path.Add(rootName);
            _depth = 0;
            WriteValue(writer, value);
        }

        /// <summary>
        /// Writes <paramref name="value"/>, which must be a JSON object (a dictionary or a host object seen as one);
        /// anything else is an error naming <paramref name="rootName"/>.
        /// </summary>
        [MethodImpl(HotPath.Optimize)]
        public void WriteObject(Utf8JsonWriter writer, object value, string rootName)
        {
            object? adapted = _adapt != null ? _adapt(value) : value;
            if (!(adapted is IDictionary || adapted is JsonObjectView))
            {
                string what = adapted is null ? "empty" : adapted is string ? "text" : adapted is IEnumerable ? "a list" : $"a {adapted.GetType().FullName}";
                throw new KalInputException("RecordDataNotAnObject", $"{rootName} must be a hashtable or an object with properties (field name -> value), but it is {what}.", null, value);
            }

            Write(writer, adapted, rootName);
        }

        [MethodImpl(HotPath.Optimize)]
        private void WriteValue(Utf8JsonWriter writer, object? value)
        {
            if (value != null && _adapt != null)
            {
                value = _adapt(value);
            }

            switch (value)
            {
                case null:
                case DBNull _:
                    writer.WriteNullValue();
                    return;
                case string s:
                    WriteString(writer, s);
                    return;
                case bool b:
                    writer.WriteBooleanValue(b);
                    return;
                case int i:
                    writer.WriteNumberValue(i);
                    return;
                case long l:
                    writer.WriteNumberValue(l);
                    return;
                case double d:
                    WriteFloat(writer, d, value);
                    return;
                case decimal m:
                    writer.WriteNumberValue(m);
                    return;
                case float f:
                    WriteFloat(writer, f, value);
                    return;
                case short _:
                case byte _:
                case sbyte _:
                case ushort _:
                case uint _:
                    writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                    return;
                case ulong ul:
                    writer.WriteNumberValue(ul);
                    return;
                case BigInteger big:
                    // Stryker disable once Boolean : a BigInteger's digits are always a valid JSON number, so validating them changes nothing
                    writer.WriteRawValue(big.ToString(CultureInfo.InvariantCulture), skipInputValidation: true);
                    return;
                case char c:
                    WriteString(writer, c.ToString());
                    return;
                case DateTime dt:
                    writer.WriteStringValue(dt);
                    return;
                case DateTimeOffset dto:
                    writer.WriteStringValue(dto);
                    return;
                case Guid g:
                    writer.WriteStringValue(g);
                    return;
                case TimeSpan ts:
                    writer.WriteStringValue(ts.ToString("c", CultureInfo.InvariantCulture));
                    return;
                case Uri uri:
                    WriteString(writer, uri.OriginalString);
                    return;
                case Version version:
                    writer.WriteStringValue(version.ToString());
                    return;
                case Enum e:
                    writer.WriteStringValue(e.ToString());
                    return;
                case byte[] bytes:
                    writer.WriteBase64StringValue(bytes);
                    return;
                case JsonElement element:
                    WriteParsed(writer, element);
                    return;
                case JsonDocument document:
                    WriteParsed(writer, document.RootElement);
                    return;
                case IDictionary dictionary:
                    WriteDictionary(writer, dictionary);
                    return;
                case JsonObjectView view:
                    WriteObject(writer, view);
                    return;
                case IEnumerable sequence:
                    WriteArray(writer, sequence);
                    return;
            }

            throw Unsupported(value, $"a {value.GetType().FullName}");
        }

        [MethodImpl(HotPath.Optimize)]
        private void WriteString(Utf8JsonWriter writer, string name, string text)
        {
            CheckName(name);
            CheckText(text);
            writer.WriteString(name, text);
        }

        private void WriteString(Utf8JsonWriter writer, string text)
        {
            CheckText(text);
            writer.WriteStringValue(text);
        }

        private void WritePropertyName(Utf8JsonWriter writer, string name)
        {
            CheckName(name);
            writer.WritePropertyName(name);
        }

        // Utf8JsonWriter would write U+FFFD for a lone surrogate: the text is refused rather than sent altered.
        private void CheckText(string text)
        {
            if (UnicodeText.Problem(text) is string problem)
            {
                throw new KalInputException("UnsupportedJsonValue", $"The text at {Path()} {problem} and cannot be sent as JSON.", null, text);
            }
        }

        private void CheckName(string name)
        {
            if (UnicodeText.Problem(name) is string problem)
            {
                throw new KalInputException("UnsupportedJsonValue", $"The field name at {Path()} {problem} and cannot be sent as JSON.", null, name);
            }
        }

        private void WriteParsed(Utf8JsonWriter writer, JsonElement element)
        {
            try
            {
                element.WriteTo(writer);
            }
            catch (InvalidOperationException ex)
            {
                // Parsed JSON keeps its text as written; an escaped lone surrogate ("\ud800") fails only here.
                throw new KalInputException("UnsupportedJsonValue", $"The JSON at {Path()} cannot be sent as JSON: {ex.Message}", null, element, ex);
            }
        }

        private void WriteFloat(Utf8JsonWriter writer, double number, object original)
        {
            if (double.IsNaN(number) || double.IsInfinity(number))
            {
                throw Unsupported(original, $"the number {number.ToString(CultureInfo.InvariantCulture)}, which JSON cannot represent");
            }

            if (original is float f)
            {
                writer.WriteNumberValue(f);
            }
            else
            {
                writer.WriteNumberValue(number);
            }
        }

        [MethodImpl(HotPath.Optimize)]
        private void WriteDictionary(Utf8JsonWriter writer, IDictionary dictionary)
        {
            Enter(dictionary);
            writer.WriteStartObject();
            IDictionaryEnumerator entries = dictionary.GetEnumerator();
            while (entries.MoveNext())
            {
                // Stryker disable once NullCoalescing : Convert.ToString of a string is that string; the cast only saves the call for the common case
                string name = entries.Key as string ?? Convert.ToString(entries.Key, CultureInfo.InvariantCulture) ?? string.Empty;
                object? value = entries.Value;
                _path.Add(name);
                if (value is string text)
                {
                    // The common case (CSV columns), written in one call without the adapter.
                    WriteString(writer, name, text);
                }
                else
                {
                    WritePropertyName(writer, name);
                    WriteValue(writer, value);
                }

                _path.RemoveAt(_path.Count - 1);
            }

            writer.WriteEndObject();
            Leave();
        }

        [MethodImpl(HotPath.Optimize)]
        private void WriteObject(Utf8JsonWriter writer, JsonObjectView view)
        {
            Enter(view);
            writer.WriteStartObject();
            foreach (KeyValuePair<string, object?> property in view)
            {
                _path.Add(property.Key);
                WritePropertyName(writer, property.Key);
                WriteValue(writer, property.Value);
                _path.RemoveAt(_path.Count - 1);
            }

            writer.WriteEndObject();
            Leave();
        }

        [MethodImpl(HotPath.Optimize)]
        private void WriteArray(Utf8JsonWriter writer, IEnumerable sequence)
        {
            Enter(sequence);
            writer.WriteStartArray();
            int index = 0;
            foreach (object? item in sequence)
            {
                _path.Add(index++);
                WriteValue(writer, item);
                _path.RemoveAt(_path.Count - 1);
            }

            writer.WriteEndArray();
            Leave();
        }

        private int _depth;

        private void Enter(object container)
        {
            if (++_depth > MaximumDepth)
            {
                throw Unsupported(container, $"nesting deeper than {MaximumDepth} levels (does the value contain itself?)");
            }
        }

        private void Leave() => _depth--;

        private KalInputException Unsupported(object value, string what)
        {
            _depth = 0;
            return new KalInputException(
                "UnsupportedJsonValue",
                $"The value at {Path()} is {what} and cannot be sent as JSON. Use text, numbers, booleans, dates, hashtables, custom objects or arrays of them.",
                null,
                value);
        }

        /// <summary>Where the writer is, e.g. <c>data.compound.synonyms[2]</c>.</summary>
        public string Path()
        {
            var text = new StringBuilder();
            foreach (object segment in _path)
            {
                if (segment is int index)
                {
                    text.Append('[').Append(index.ToString(CultureInfo.InvariantCulture)).Append(']');
                }
                else
                {
                    if (text.Length > 0)
                    {
                        text.Append('.');
                    }

                    text.Append((string)segment);
                }
            }

            return text.ToString();
        }
    }
}
