using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// Reads a JSON Lines results file (one record object a line, UTF-8) straight into a
    /// <see cref="ResultsPayloadBuilder"/>: the file is read in blocks, each line is parsed where it lies in the block
    /// with <see cref="Utf8JsonReader"/>, and only the longest line is ever held. A line has the fields of a record
    /// result (record_id or RecordId, status, data, error_message or ErrorMessage, names matched case-insensitively,
    /// as New-KalRecordResult reads them); blank lines are skipped. A line's problem is the record's problem, with its
    /// line number, and the rest of the file is still read so that every problem is reported.
    /// </summary>
    internal static class ResultsJsonLinesFile
    {
        private const int CheckStopEvery = 4096;
        private const string FieldList = RecordFieldNames.List;

        private static readonly JsonReaderOptions ReaderOptions = new JsonReaderOptions { MaxDepth = JsonValueWriter.MaximumDepth };

        /// <summary>
        /// Adds every record of <paramref name="path"/> to <paramref name="builder"/>. With <paramref name="dataKeys"/>
        /// only those keys of each record's data are sent (in that order, under those names); without it, all of data.
        /// A record's problem (with its line number) goes to <paramref name="report"/>; a file that is not UTF-8 throws
        /// <see cref="KalInputException"/>; <paramref name="status"/> sees each status.
        /// </summary>
        public static void Read(
            string path,
            IReadOnlyList<string>? dataKeys,
            ResultsPayloadBuilder builder,
            Action<KalInputException> report,
            Action<string> status,
            CancellationToken cancellation)
        {
            using FileStream stream = ResultsFile.Open(path);
            var record = new LineRecord(dataKeys);
            var lines = new LineSplitter(stream);
            builder.DeferDuplicateCheck();
            while (lines.Next(out ReadOnlySpan<byte> line))
            {
                if (lines.Number % CheckStopEvery == 0)
                {
                    cancellation.ThrowIfCancellationRequested();
                }

                if (lines.Number == 1)
                {
                    line = WithoutByteOrderMark(line, path);
                }

                if (IsBlank(line))
                {
                    continue;
                }

                KalInputException? problem;
                try
                {
                    problem = record.Parse(line) is { } unreadable
                        ? builder.Reject(unreadable.ErrorId, unreadable.Problem, record.RecordId, null)
                        : Add(builder, record, status, lines.Number);
                }
                finally
                {
                    record.Clear();
                }

                if (problem != null)
                {
                    report(ResultsFile.AtLine(problem, lines.Number, path));
                }
            }

            ResultsFile.ReportRepeatedIds(builder, report, path);
        }

        private static KalInputException? Add(ResultsPayloadBuilder builder, LineRecord record, Action<string> status, int line)
        {
            if (record.Status != null)
            {
                status(record.Status);
            }

            return builder.Add(record.RecordId, record.Status, record.Data, record.ErrorMessage, line: line);
        }

        private static ReadOnlySpan<byte> WithoutByteOrderMark(ReadOnlySpan<byte> line, string path)
        {
            if (line.Length >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF)
            {
                return line.Slice(3);
            }

            if (line.Length >= 2 && ((line[0] == 0xFF && line[1] == 0xFE) || (line[0] == 0xFE && line[1] == 0xFF)))
            {
                throw new KalInputException("ResultsFileNotUtf8", $"The results file '{path}' starts with a UTF-16 or UTF-32 byte order mark; a JSON Lines file is UTF-8. Nothing was sent.", "Path", path);
            }

            return line;
        }

        private static bool IsBlank(ReadOnlySpan<byte> line)
        {
            foreach (byte b in line)
            {
                if (b != (byte)' ' && b != (byte)'\t' && b != (byte)'\r')
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Splits a stream into lines at <c>\n</c>, in one buffer that grows to the longest line.</summary>
        private sealed class LineSplitter
        {
            private readonly Stream _stream;
            private byte[] _buffer = new byte[64 * 1024];
            private int _start;
            private int _scanned;
            private int _end;
            private bool _ended;

            public LineSplitter(Stream stream) => _stream = stream;

            /// <summary>The 1-based number of the line last returned.</summary>
            public int Number { get; private set; }

            [MethodImpl(HotPath.Optimize)]
            public bool Next(out ReadOnlySpan<byte> line)
            {
                while (true)
                {
                    int newline = Array.IndexOf(_buffer, (byte)'\n', _scanned, _end - _scanned);
                    if (newline >= 0)
                    {
                        line = new ReadOnlySpan<byte>(_buffer, _start, newline - _start);
                        _start = _scanned = newline + 1;
                        Number++;
                        return true;
                    }

                    _scanned = _end;
                    if (_ended)
                    {
                        line = new ReadOnlySpan<byte>(_buffer, _start, _end - _start);
                        bool last = _end > _start;
                        _start = _end;
                        if (last)
                        {
                            Number++;
                        }

                        return last;
                    }

                    Fill();
                }
            }

            private void Fill()
            {
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _scanned -= _start;
                    _start = 0;
                }

                if (_end == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }

                int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
                if (read == 0)
                {
                    _ended = true;
                }

                _end += read;
            }
        }

        /// <summary>Why a line is not a record result at all: an ErrorId and a predicate for "records[3] ...".</summary>
        private sealed class Unreadable
        {
            public Unreadable(string errorId, string problem)
            {
                ErrorId = errorId;
                Problem = problem;
            }

            public string ErrorId { get; }

            public string Problem { get; }
        }

        /// <summary>The fields of one line, parsed again for each line (its lists are reused).</summary>
        private sealed class LineRecord
        {
            private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false, true);

            private readonly string[]? _dataKeys;
            private readonly List<string> _names = new List<string>();
            private readonly List<object?> _values = new List<object?>();
            private readonly List<JsonDocument> _documents = new List<JsonDocument>();

            public LineRecord(IReadOnlyList<string>? dataKeys)
            {
                if (dataKeys != null)
                {
                    _dataKeys = new string[dataKeys.Count];
                    for (int i = 0; i < _dataKeys.Length; i++)
                    {
                        _dataKeys[i] = dataKeys[i];
                    }
                }
            }

            public string? RecordId { get; private set; }

            public string? Status { get; private set; }

            public string? ErrorMessage { get; private set; }

            public KalRecordData? Data { get; private set; }

            /// <summary>Reads <paramref name="line"/> into the fields; null when it is a record result, else why not.</summary>
            [MethodImpl(HotPath.Optimize)]
            public Unreadable? Parse(ReadOnlySpan<byte> line)
            {
                try
                {
                    var reader = new Utf8JsonReader(line, ReaderOptions);
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        return new Unreadable("ResultsLineNotAnObject", $"is {Describe(reader.TokenType)}, not a record object such as {{\"record_id\": \"r1\", \"status\": \"matched\", \"data\": {{...}}}}.");
                    }

                    bool dataSeen = false;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        string name = reader.GetString()!;
                        reader.Read();
                        RecordField field = RecordFieldNames.Of(name);
                        if (field == RecordField.RecordId)
                        {
                            RecordId = Once(RecordId, Text(ref reader, name, out Unreadable? wrong), name, ref wrong);
                            if (wrong != null)
                            {
                                return wrong;
                            }
                        }
                        else if (field == RecordField.Status)
                        {
                            Status = Once(Status, Text(ref reader, name, out Unreadable? wrong), name, ref wrong);
                            if (wrong != null)
                            {
                                return wrong;
                            }
                        }
                        else if (field == RecordField.ErrorMessage)
                        {
                            ErrorMessage = Once(ErrorMessage, Text(ref reader, name, out Unreadable? wrong), name, ref wrong);
                            if (wrong != null)
                            {
                                return wrong;
                            }
                        }
                        else if (field == RecordField.Data)
                        {
                            if (dataSeen)
                            {
                                return new Unreadable("RecordFieldUnknown", "gives data twice.");
                            }

                            dataSeen = true;
                            if (ReadData(ref reader) is { } wrong)
                            {
                                return wrong;
                            }
                        }
                        else
                        {
                            return new Unreadable("RecordFieldUnknown", $"has a field '{name}', which a record result does not have (its fields are {FieldList}). Put record data under data.");
                        }
                    }

                    // Anything after the object (other than spaces) is not JSON Lines: the reader throws.
                    reader.Read();
                }
                catch (JsonException ex)
                {
                    return new Unreadable("ResultsLineNotJson", $"is not valid JSON ({Plain(ex.Message)}).");
                }
                catch (InvalidOperationException ex)
                {
                    // GetString on text that is not valid UTF-8, or escapes that are not valid UTF-16.
                    return new Unreadable("ResultsLineNotJson", $"has text that cannot be read ({ex.Message}).");
                }

                return _dataKeys != null ? PickData() : null;
            }

            public void Clear()
            {
                RecordId = Status = ErrorMessage = null;
                Data = null;
                _names.Clear();
                _values.Clear();
                foreach (JsonDocument document in _documents)
                {
                    document.Dispose();
                }

                _documents.Clear();
            }

            /// <summary>A text field: text as is, a number as written; null, empty or blank text is absent.</summary>
            private static string? Text(ref Utf8JsonReader reader, string name, out Unreadable? wrong)
            {
                wrong = null;
                string? text;
                switch (reader.TokenType)
                {
                    case JsonTokenType.Null:
                        return null;
                    case JsonTokenType.String:
                        text = reader.GetString();
                        break;
                    case JsonTokenType.Number:
                        text = Utf8.GetString(reader.ValueSpan.ToArray());
                        break;
                    default:
                        wrong = new Unreadable("RecordFieldNotText", $"has a {name} that is {Describe(reader.TokenType)}; it must be text.");
                        return null;
                }

                return string.IsNullOrWhiteSpace(text) ? null : text;
            }

            /// <summary>A field given twice (under both names) must agree.</summary>
            private static string? Once(string? current, string? value, string name, ref Unreadable? wrong)
            {
                if (wrong is null && current != null && value != null && !string.Equals(current, value, StringComparison.Ordinal))
                {
                    wrong = new Unreadable("RecordFieldUnknown", $"gives {name} twice with different values ('{current}' and '{value}').");
                }

                return value ?? current;
            }

            /// <summary>Reads data, an object (or null: absent): text, true, false and null as values, anything else as a JSON element.</summary>
            private Unreadable? ReadData(ref Utf8JsonReader reader)
            {
                if (reader.TokenType == JsonTokenType.Null)
                {
                    return null;
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return new Unreadable("RecordDataNotAnObject", $"has data that is {Describe(reader.TokenType)}; data must be an object (field name -> value).");
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    _names.Add(reader.GetString()!);
                    reader.Read();
                    switch (reader.TokenType)
                    {
                        case JsonTokenType.String:
                            _values.Add(reader.GetString());
                            break;
                        case JsonTokenType.True:
                            _values.Add(true);
                            break;
                        case JsonTokenType.False:
                            _values.Add(false);
                            break;
                        case JsonTokenType.Null:
                            _values.Add(null);
                            break;
                        default:
                            // A number keeps its text exactly; an object or array is written back as it was.
                            JsonDocument document = JsonDocument.ParseValue(ref reader);
                            _documents.Add(document);
                            _values.Add(document.RootElement);
                            break;
                    }
                }

                Data = _dataKeys is null ? new KalRecordData(_names.ToArray(), _values.ToArray()) : null;
                return null;
            }

            /// <summary>The -DataProperty keys of data, in their order and under their names; each must be there.</summary>
            private Unreadable? PickData()
            {
                string[] keys = _dataKeys!;
                var values = new object?[keys.Length];
                for (int i = 0; i < keys.Length; i++)
                {
                    int index = _names.Count - 1;
                    while (index >= 0 && !Is(_names[index], keys[i]))
                    {
                        index--;
                    }

                    if (index < 0)
                    {
                        string has = _names.Count == 0 ? "its data is empty or absent" : "its data has: " + string.Join(", ", _names);
                        return new Unreadable("DataPropertyNotFound", $"has no key '{keys[i]}' in its data to send ({has}).");
                    }

                    values[i] = _values[index];
                }

                Data = new KalRecordData(keys, values);
                return null;
            }

            private static bool Is(string name, string field) => string.Equals(name, field, StringComparison.OrdinalIgnoreCase);

            private static string Describe(JsonTokenType token)
            {
                switch (token)
                {
                    case JsonTokenType.StartArray:
                        return "a JSON array";
                    case JsonTokenType.StartObject:
                        return "a JSON object";
                    case JsonTokenType.String:
                        return "a JSON string";
                    case JsonTokenType.Number:
                        return "a JSON number";
                    case JsonTokenType.True:
                    case JsonTokenType.False:
                        return "a JSON boolean";
                    default:
                        return "JSON null";
                }
            }

            /// <summary>The reader's message without its position within the line (the line is named already) or its advice to programmers.</summary>
            private static string Plain(string message)
            {
                int at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
                return (at > 0 ? message.Substring(0, at) : message).Replace(" Change the reader options.", string.Empty).TrimEnd();
            }
        }
    }
}
