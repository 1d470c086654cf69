using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Tasks;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// Builds the JSON body of a results submission one record at a time, validating each record as it comes and
    /// writing it straight into a <see cref="ChunkedBuffer"/>: memory follows the bytes of the body, not the number of
    /// objects. Once any record is invalid (or not among the expected ids) the body is dropped and the rest are only
    /// validated, so every problem can be reported while nothing is ever sent.
    /// </summary>
    internal sealed class ResultsPayloadBuilder : IDisposable
    {
        /// <summary>How many ids a mismatch message lists before it says "and N more".</summary>
        public const int MaximumListedIds = 10;

        /// <summary>Above this many bytes (16 MiB) a body is kept in a temporary file rather than in memory.</summary>
        public const long DefaultSpoolThreshold = 16L * 1024 * 1024;

        /// <summary>Overrides <see cref="DefaultSpoolThreshold"/> (in bytes): for machines short of memory, and for tests.</summary>
        public const string SpoolThresholdVariable = "KALBIO_SPOOL_THRESHOLD";

        private static readonly JsonEncodedText StatusName = JsonEncodedText.Encode("status");
        private static readonly JsonEncodedText MessageName = JsonEncodedText.Encode("message");
        private static readonly JsonEncodedText ErrorMessageName = JsonEncodedText.Encode("error_message");
        private static readonly JsonEncodedText KeyFieldNamesName = JsonEncodedText.Encode("key_field_names");
        private static readonly JsonEncodedText RecordsName = JsonEncodedText.Encode("records");
        private static readonly JsonEncodedText RecordIdName = JsonEncodedText.Encode("record_id");
        private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");

        private readonly JsonValueWriter _values;
        private readonly RecordIdSet _positions = new RecordIdSet();
        private readonly HashSet<string>? _expected;
        private readonly List<string> _unexpectedSample = new List<string>();
        private ChunkedBuffer? _buffer;
        private Utf8JsonWriter? _writer;
        private DiscardingBufferWriter? _discard;
        private Utf8JsonWriter? _discardWriter;
        private bool _recordsOpen;
        private int _count;
        private int _unexpectedCount;
        private DuplicateIdCheck? _deferredIds;
        private bool _deferredTaken;

        /// <param name="status"><c>success</c> or <c>error</c>.</param>
        /// <param name="message">Sent as both <c>message</c> and <c>error_message</c>; left out when null or empty.</param>
        /// <param name="keyFieldNames">Sent as <c>key_field_names</c> when not null.</param>
        /// <param name="expectedRecordIds">When not null, the results must be for exactly these record ids.</param>
        /// <param name="values">Writes each record's data (with the host's adapter).</param>
        /// <param name="spoolThreshold">Above this many bytes the body lives in a temporary file; by default
        /// <see cref="SpoolThresholdVariable"/>'s value or <see cref="DefaultSpoolThreshold"/>.</param>
        public ResultsPayloadBuilder(string status, string? message, IReadOnlyList<string>? keyFieldNames, IEnumerable<string>? expectedRecordIds, JsonValueWriter values, long? spoolThreshold = null)
        {
            if (status != "success" && status != "error")
            {
                throw new KalInputException("InvalidResultStatus", $"The overall status '{status}' is not valid. Use success or error.", "Status", status);
            }

            if (keyFieldNames != null && keyFieldNames.Any(string.IsNullOrWhiteSpace))
            {
                throw new KalInputException("InvalidKeyFieldName", "A key field name is empty. Give the names of the data fields that identify a record, e.g. id, name.", "KeyFieldName");
            }

            CheckText(message, "The message", "Message");
            for (int i = 0; keyFieldNames != null && i < keyFieldNames.Count; i++)
            {
                CheckText(keyFieldNames[i], $"Key field name {i + 1}", "KeyFieldName");
            }

            Status = status;
            _values = values;
            if (expectedRecordIds != null)
            {
                _expected = new HashSet<string>(StringComparer.Ordinal);
                foreach (string? id in expectedRecordIds)
                {
                    if (string.IsNullOrWhiteSpace(id))
                    {
                        throw new KalInputException("InvalidExpectedRecordId", "An expected record id is empty. Pass the record ids of the registration event, e.g. $event.record_ids.", "ExpectedRecordId");
                    }

                    _expected.Add(id!);
                }
            }

            _buffer = new ChunkedBuffer(spoolThreshold ?? ConfiguredSpoolThreshold());
            _writer = new Utf8JsonWriter(_buffer, JsonValueWriter.WriterOptions);
            _writer.WriteStartObject();
            _writer.WriteString(StatusName, status);
            if (!string.IsNullOrEmpty(message))
            {
                _writer.WriteString(MessageName, message!);
                _writer.WriteString(ErrorMessageName, message!);
            }

            if (keyFieldNames != null)
            {
                _writer.WriteStartArray(KeyFieldNamesName);
                foreach (string name in keyFieldNames)
                {
                    _writer.WriteStringValue(name);
                }

                _writer.WriteEndArray();
            }
        }

        public string Status { get; }

        /// <summary>How many records were added, valid or not; the next record's position in <c>records</c>.</summary>
        public int RecordCount => _count;

        public int InvalidRecordCount { get; private set; }

        /// <summary>The body is likely to be about <paramref name="bytes"/> long (e.g. the size of a results file); see <see cref="ChunkedBuffer.ExpectLength"/>.</summary>
        public void ExpectLength(long bytes) => _buffer?.ExpectLength(bytes);

        /// <summary>False once anything means the submission cannot be sent.</summary>
        public bool CanSend => InvalidRecordCount == 0 && _unexpectedCount == 0;

        /// <summary>The size of the body so far (0 once it was dropped).</summary>
        // Stryker disable once Logical : _buffer and _writer are set and cleared together, so "either is null" and "both are null" agree
        public long Length => _buffer is null || _writer is null ? 0 : _buffer.Length + _writer.BytesPending;

        /// <summary>
        /// Validates and writes the next record. Returns null when it is valid, else the problem (position, id and what
        /// is wrong) for the caller to report; the builder then refuses to complete.
        /// </summary>
        public KalInputException? Add(string? recordId, string? status, object? data, string? errorMessage, object? source = null, int line = 0) =>
            Add(recordId, status, new ObjectRecordData(_values, data), errorMessage, source, line);

        /// <summary>
        /// From now on, repeated record ids are found on another thread (<see cref="DuplicateIdCheck"/>) and reported
        /// by <see cref="TakeDeferredProblems"/> rather than by <see cref="Add{TData}"/>: for a results file, read at
        /// once, whose problems name lines; the pipeline's rows keep the check at each row.
        /// </summary>
        public void DeferDuplicateCheck() => _deferredIds ??= new DuplicateIdCheck(_positions);

        /// <summary>The deferred check, when there is one (for tests).</summary>
        internal DuplicateIdCheck? DeferredCheck => _deferredIds;

        /// <summary>
        /// With <see cref="DeferDuplicateCheck"/>: waits for the check, and returns each repeated id's problem with the
        /// line given to <see cref="Add{TData}"/>; each counts as an invalid record. Empty without it, or the second time.
        /// </summary>
        public IReadOnlyList<(KalInputException Problem, int Line)> TakeDeferredProblems()
        {
            var problems = new List<(KalInputException, int)>();
            if (_deferredIds is null || _deferredTaken)
            {
                return problems;
            }

            _deferredTaken = true;
            foreach (Duplicate duplicate in _deferredIds.Finish())
            {
                problems.Add((DuplicateId(duplicate.Position, duplicate.Id, duplicate.FirstPosition, null), duplicate.Line));
            }

            return problems;
        }

        /// <summary>
        /// <see cref="Add(string?, string?, object?, string?, object?, int)"/> with the data written by <paramref name="data"/>:
        /// a struct, so that this method is compiled for each kind of data (a host object, a CSV row) without boxing.
        /// </summary>
        [MethodImpl(HotPath.Optimize)]
        /// <param name="line">With <see cref="DeferDuplicateCheck"/>: given back with this record's duplicate problem.</param>
        public KalInputException? Add<TData>(string? recordId, string? status, TData data, string? errorMessage, object? source = null, int line = 0)
            where TData : struct, IRecordDataWriter
        {
            int index = _count++;
            if (string.IsNullOrWhiteSpace(recordId))
            {
                return Invalid(index, null, "RecordIdMissing", "has no record_id. Every record result needs the id of the record it is for.", source);
            }

            if (string.IsNullOrWhiteSpace(status))
            {
                return Invalid(index, recordId, "RecordStatusMissing", "has no status. Give each record a status such as matched, not_found, created or error.", source);
            }

            if (Unsendable(recordId!, status!, errorMessage, out bool badId) is string field)
            {
                return Invalid(index, badId ? null : recordId, "UnsupportedJsonValue", $"has {field} and cannot be sent as JSON.", source);
            }

            if (_deferredIds != null)
            {
                _deferredIds.Post(recordId!, index, line);
            }
            else if (!_positions.TryAdd(recordId!, index, out int first))
            {
                return DuplicateId(index, recordId!, first, source);
            }

            if (_expected != null && !_expected.Contains(recordId!))
            {
                if (_unexpectedSample.Count < MaximumListedIds)
                {
                    _unexpectedSample.Add(recordId!);
                }

                _unexpectedCount++;
                DropBody();
                return null;
            }

            try
            {
                WriteRecord(recordId!, status!, data, errorMessage);
            }
            catch (KalInputException ex)
            {
                return Invalid(index, recordId, ex.ErrorId, ex.Message, ex.Target ?? source, ex, asSentence: true);
            }

            return null;
        }

        /// <summary>Counts a record that could not even be read (e.g. a plain string) and returns its problem, with its position.</summary>
        public KalInputException Reject(string errorId, string problem, string? recordId, object? source) =>
            Invalid(_count++, recordId, errorId, problem, source);

        /// <summary>Finishes the body; throws when any record was invalid or the ids differ from the expected ones.</summary>
        public ResultsPayload Complete()
        {
            // A caller that deferred the check and did not take its problems still gets none of them sent.
            TakeDeferredProblems();
            string? mismatch = DescribeMismatch();
            if (InvalidRecordCount > 0)
            {
                string counted = InvalidRecordCount == 1 ? "1 record result is" : $"{InvalidRecordCount.ToString("N0", CultureInfo.InvariantCulture)} record results are";
                throw new KalInputException(
                    "RecordResultsInvalid",
                    $"{counted} invalid (of {_count.ToString("N0", CultureInfo.InvariantCulture)}); nothing was sent. Fix them and submit all the results again.{(mismatch is null ? string.Empty : " Also, " + Uncapitalize(mismatch))}");
            }

            if (mismatch != null)
            {
                throw new KalInputException("RecordIdsNotAsExpected", mismatch + " Nothing was sent.");
            }

            if (_recordsOpen)
            {
                _writer!.WriteEndArray();
            }

            _writer!.WriteEndObject();
            _writer.Dispose();
            _writer = null;
            _buffer!.Seal();
            var payload = new ResultsPayload(_buffer!, Status, _count);
            _buffer = null;
            return payload;
        }

        public void Dispose()
        {
            DropBody();
            _deferredIds?.Dispose();

            // Stryker disable once Statement : the discard writer writes into one reused array and holds nothing to release
            _discardWriter?.Dispose();
            _discardWriter = null;
        }

        [MethodImpl(HotPath.Optimize)]
        private void WriteRecord<TData>(string recordId, string status, TData data, string? errorMessage)
            where TData : struct, IRecordDataWriter
        {
            Utf8JsonWriter writer;
            if (_writer is null)
            {
                // The body was dropped: the record is still written, to nowhere, so that data that cannot be sent as
                // JSON is reported for every record and not only for those before the first problem.
                // Stryker disable once Assignment : a new discard writer (or array) per record instead of one reused costs memory, not an answer
                _discardWriter ??= new Utf8JsonWriter(_discard ??= new DiscardingBufferWriter(), JsonValueWriter.WriterOptions);
                _discardWriter.Reset();
                writer = _discardWriter;
            }
            else
            {
                writer = _writer;
                if (!_recordsOpen)
                {
                    writer.WriteStartArray(RecordsName);
                    _recordsOpen = true;
                }
            }

            writer.WriteStartObject();
            writer.WriteString(RecordIdName, recordId);
            writer.WriteString(StatusName, status);
            if (data.HasData)
            {
                writer.WritePropertyName(DataName);
                data.Write(writer);
            }

            if (!string.IsNullOrEmpty(errorMessage))
            {
                writer.WriteString(ErrorMessageName, errorMessage);
            }

            writer.WriteEndObject();
        }

        // Utf8JsonWriter would write U+FFFD for a lone surrogate: such text is refused rather than sent altered.
        private static void CheckText(string? text, string what, string parameter)
        {
            if (text != null && UnicodeText.Problem(text) is string problem)
            {
                throw new KalInputException("UnsupportedJsonValue", $"{what} {problem} and cannot be sent as JSON.", parameter, text);
            }
        }

        /// <summary>Which of the record's own fields has a lone surrogate (checked before the id enters the set), or null.</summary>
        private static string? Unsendable(string recordId, string status, string? errorMessage, out bool badId)
        {
            string? problem = UnicodeText.Problem(recordId);
            badId = problem != null;
            return badId ? "a record_id that " + problem
                : UnicodeText.Problem(status) is string inStatus ? "a status that " + inStatus
                : errorMessage != null && UnicodeText.Problem(errorMessage) is string inMessage ? "an error_message that " + inMessage
                : null;
        }

        private KalInputException DuplicateId(int index, string recordId, int first, object? source) =>
            Invalid(index, recordId, "DuplicateRecordId", $"repeats the record_id of records[{first.ToString(CultureInfo.InvariantCulture)}]. Each record may have only one result.", source);

        private KalInputException Invalid(int index, string? recordId, string errorId, string problem, object? source, Exception? inner = null, bool asSentence = false)
        {
            InvalidRecordCount++;
            DropBody();
            string where = Describe(index, recordId);
            return new KalInputException(errorId, asSentence ? $"{where}: {problem}" : $"{where} {problem}", null, source, inner);
        }

        /// <summary>How a record is named in messages: its position in the body's <c>records</c> array and its id.</summary>
        public static string Describe(int index, string? recordId) =>
            string.IsNullOrWhiteSpace(recordId)
                ? $"records[{index.ToString(CultureInfo.InvariantCulture)}]"
                : $"records[{index.ToString(CultureInfo.InvariantCulture)}] (record_id '{recordId}')";

        private string? DescribeMismatch()
        {
            if (_expected is null)
            {
                return null;
            }

            var missing = new List<string>();
            int missingCount = 0;
            foreach (string id in _expected)
            {
                if (!_positions.Contains(id))
                {
                    if (missing.Count < MaximumListedIds)
                    {
                        missing.Add(id);
                    }

                    missingCount++;
                }
            }

            if (missingCount == 0 && _unexpectedCount == 0)
            {
                return null;
            }

            var parts = new List<string>();
            if (missingCount > 0)
            {
                parts.Add($"{Count(missingCount, "expected record has", "expected records have")} no result ({List(missing, missingCount)})");
            }

            if (_unexpectedCount > 0)
            {
                parts.Add($"{Count(_unexpectedCount, "result is", "results are")} for a record that was not expected ({List(_unexpectedSample, _unexpectedCount)})");
            }

            return $"The results do not match the expected record ids: {string.Join("; ", parts)}.";
        }

        private static long ConfiguredSpoolThreshold() =>
            long.TryParse(Environment.GetEnvironmentVariable(SpoolThresholdVariable), NumberStyles.None, CultureInfo.InvariantCulture, out long bytes)
                ? bytes
                : DefaultSpoolThreshold;

        private static string Count(int count, string one, string many) =>
            count == 1 ? "1 " + one : count.ToString("N0", CultureInfo.InvariantCulture) + " " + many;

        private static string List(List<string> sample, int total)
        {
            string listed = string.Join(", ", sample.Select(id => "'" + id + "'"));
            return total > sample.Count ? $"{listed} and {(total - sample.Count).ToString("N0", CultureInfo.InvariantCulture)} more" : listed;
        }

        private static string Uncapitalize(string text) => char.ToLowerInvariant(text[0]) + text.Substring(1);

        private void DropBody()
        {
            // Stryker disable once Statement : the body is being dropped; the writer writes into the buffer disposed next and holds no memory of its own
            _writer?.Dispose();
            _writer = null;
            _buffer?.Dispose();
            _buffer = null;
        }
    }

    /// <summary>Writes a record's <c>data</c> object into the body; implemented by structs (see <see cref="ResultsPayloadBuilder.Add{TData}"/>).</summary>
    internal interface IRecordDataWriter
    {
        /// <summary>False when the record has no data (the <c>data</c> member is left out).</summary>
        bool HasData { get; }

        /// <summary>Writes the data as one JSON object; throws <see cref="KalInputException"/> for data that has no JSON form.</summary>
        void Write(Utf8JsonWriter writer);
    }

    /// <summary>Data given as an object (a dictionary or a host object seen as one), written by a <see cref="JsonValueWriter"/>.</summary>
    internal readonly struct ObjectRecordData : IRecordDataWriter
    {
        private readonly JsonValueWriter _values;
        private readonly object? _data;

        public ObjectRecordData(JsonValueWriter values, object? data)
        {
            _values = values;
            _data = data;
        }

        public bool HasData => _data != null;

        public void Write(Utf8JsonWriter writer) => _values.WriteObject(writer, _data!, "data");
    }

    /// <summary>An <see cref="IBufferWriter{T}"/> that forgets what is written, reusing one small array.</summary>
    internal sealed class DiscardingBufferWriter : IBufferWriter<byte>
    {
        private byte[] _scratch = new byte[4096];

        public void Advance(int count)
        {
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            if (sizeHint > _scratch.Length)
            {
                _scratch = new byte[sizeHint];
            }

            return _scratch;
        }

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }

    /// <summary>A complete results body, held in pooled memory until disposed; it can be sent any number of times.</summary>
    internal sealed class ResultsPayload : IDisposable
    {
        internal ResultsPayload(ChunkedBuffer buffer, string status, int recordCount)
        {
            Buffer = buffer;
            Status = status;
            RecordCount = recordCount;
        }

        public string Status { get; }

        public int RecordCount { get; }

        public long Length => Buffer.Length;

        /// <summary>True when the body is kept in a temporary file (it is larger than the spool threshold).</summary>
        public bool IsSpooled => Buffer.IsSpooled;

        internal ChunkedBuffer Buffer { get; }

        /// <summary>A fresh HttpContent over the same bytes (one per attempt); <paramref name="progress"/> gets the bytes sent so far.</summary>
        public HttpContent CreateContent(Action<long>? progress = null) => new ChunkedBufferContent(Buffer, progress);

        /// <summary>The body as text when it is at most <paramref name="maximumBytes"/> long, else null.</summary>
        public string? ToText(int maximumBytes = int.MaxValue) => Buffer.ToText(maximumBytes);

        public void Dispose() => Buffer.Dispose();

        private sealed class ChunkedBufferContent : HttpContent
        {
            private readonly ChunkedBuffer _buffer;
            private readonly Action<long>? _progress;

            public ChunkedBufferContent(ChunkedBuffer buffer, Action<long>? progress)
            {
                _buffer = buffer;
                _progress = progress;
                Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }

            protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
                _buffer.CopyToAsync(stream, _progress, default);

            protected override bool TryComputeLength(out long length)
            {
                length = _buffer.Length;
                return true;
            }
        }
    }
}
