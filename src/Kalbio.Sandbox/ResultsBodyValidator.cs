using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

/// <summary>
/// Validates a results body as it streams in, one token at a time through a pooled buffer, so a body of any size
/// costs a buffer rather than a document. The rules, the problems and their order are those of a check over a whole
/// parsed document: a syntax error anywhere wins over every other problem (the <see cref="JsonException"/> of
/// System.Text.Json, with its line and byte position); then, for each object, the unknown, repeated and null fields
/// come first and the problems of the accepted values after them, in document order; then what is required but absent.
/// </summary>
internal sealed class ResultsBodyValidator
{
    private const int NoSkip = -1;

    // Top-level fields, and a record's fields, as bit positions of the "seen" flags.
    private const int TopStatus = 0, TopMessage = 1, TopErrorMessage = 2, TopKeyFieldNames = 3, TopRecords = 4;
    private const int RecordId = 0, RecordStatus = 1, RecordData = 2, RecordErrorMessage = 3;
    private static readonly string[] TopNames = ["status", "message", "error_message", "key_field_names", "records"];
    private static readonly string[] RecordNames = ["record_id", "status", "data", "error_message"];

    // The names as UTF-8, compared with the token's bytes (a string would be transcoded at every comparison).
    private static readonly byte[][] TopNamesUtf8 = Array.ConvertAll(TopNames, Encoding.UTF8.GetBytes);
    private static readonly byte[][] RecordNamesUtf8 = Array.ConvertAll(RecordNames, Encoding.UTF8.GetBytes);
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private readonly ResultsValidation _result = new();
    private readonly List<ValidationDetail> _topNaming = new();
    private readonly List<ValidationDetail> _topValues = new();
    private readonly List<ValidationDetail> _recordNaming = new();
    private readonly List<ValidationDetail> _recordValues = new();
    private readonly Dictionary<string, int> _firstIndexById = new(StringComparer.Ordinal);
    private JsonReaderState _state;
    private Expect _expect = Expect.Root;
    private int _skipDepth = NoSkip;
    private bool _rootIsObject;
    private bool _inRecord;
    private int _pending = -1;
    private string _pendingName = "";
    private int _topSeen;
    private int _topPresent;
    private int _index;
    private int _recordSeen;
    private int _recordPresent;
    private string? _recordId;
    private string? _recordStatus;
    private string? _recordErrorMessage;
    private ExceptionDispatchInfo? _unreadableText;

    private enum Expect
    {
        Root,
        TopProperty,
        TopValue,
        KeyFieldName,
        Record,
        RecordProperty,
        RecordValue,
        Done,
    }

    /// <summary>Reads the whole body and validates it; throws <see cref="JsonException"/> when it is not valid JSON.</summary>
    public static async Task<ResultsValidation> ValidateAsync(Stream body, CancellationToken cancellationToken, int bufferSize = 64 * 1024)
    {
        var validator = new ResultsBodyValidator();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            int filled = 0;
            bool bomChecked = false;
            while (true)
            {
                int read = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                filled += read;
                bool final = read == 0;
                int start = 0;
                if (!bomChecked)
                {
                    // As a whole-document parse does: a UTF-8 byte order mark at the very start is skipped.
                    if (filled < Utf8Bom.Length && !final)
                    {
                        continue;
                    }

                    bomChecked = true;
                    if (buffer.AsSpan(0, filled).StartsWith(Utf8Bom))
                    {
                        start = Utf8Bom.Length;
                    }
                }

                int consumed = validator.Feed(buffer.AsSpan(start, filled - start), final);
                if (final)
                {
                    return validator.Finish();
                }

                int left = filled - start - consumed;
                Buffer.BlockCopy(buffer, start + consumed, buffer, 0, left);
                filled = left;
                if (filled == buffer.Length)
                {
                    // One token (a long string) fills the buffer: give it a bigger one.
                    byte[] larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    Buffer.BlockCopy(buffer, 0, larger, 0, filled);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private int Feed(ReadOnlySpan<byte> data, bool final)
    {
        var reader = new Utf8JsonReader(data, final, _state);
        while (reader.Read())
        {
            Handle(ref reader);
        }

        _state = reader.CurrentState;
        return (int)reader.BytesConsumed;
    }

    private ResultsValidation Finish()
    {
        // Text that is not UTF-8 fails where a whole-document check reads it: after the syntax has been checked.
        _unreadableText?.Throw();
        if (_rootIsObject)
        {
            _result.Problems.AddRange(_topNaming);
            _result.Problems.AddRange(_topValues);
            if (!Has(_topPresent, TopStatus))
            {
                _result.Problems.Add(new ValidationDetail("status", "is required"));
            }
        }

        return _result;
    }

    private void Handle(ref Utf8JsonReader reader)
    {
        JsonTokenType token = reader.TokenType;
        if (_skipDepth != NoSkip)
        {
            if (token is JsonTokenType.EndObject or JsonTokenType.EndArray && reader.CurrentDepth == _skipDepth)
            {
                _skipDepth = NoSkip;
            }

            return;
        }

        switch (_expect)
        {
            case Expect.Root:
                _expect = Expect.Done;
                if (token == JsonTokenType.StartObject)
                {
                    _rootIsObject = true;
                    _expect = Expect.TopProperty;
                }
                else
                {
                    _result.Problems.Add(new ValidationDetail("$", "must be a JSON object"));
                    Skip(ref reader);
                }

                break;
            case Expect.TopProperty:
            case Expect.RecordProperty:
                bool inTop = _expect == Expect.TopProperty;
                if (token == JsonTokenType.EndObject)
                {
                    _expect = inTop ? Expect.Done : Expect.Record;
                    if (!inTop)
                    {
                        EndRecord();
                        _inRecord = false;
                        _index++;
                    }
                }
                else
                {
                    _pending = inTop
                        ? Name(ref reader, TopNames, TopNamesUtf8, ref _topSeen, ref _topPresent, _topNaming)
                        : Name(ref reader, RecordNames, RecordNamesUtf8, ref _recordSeen, ref _recordPresent, _recordNaming);
                    _expect = inTop ? Expect.TopValue : Expect.RecordValue;
                }

                break;
            case Expect.KeyFieldName:
                if (token == JsonTokenType.EndArray)
                {
                    _expect = Expect.TopProperty;
                    break;
                }

                if (token == JsonTokenType.Null)
                {
                    _topValues.Add(new ValidationDetail($"key_field_names[{_index}]", "must not be null"));
                }
                else if (token != JsonTokenType.String)
                {
                    _topValues.Add(new ValidationDetail($"key_field_names[{_index}]", "must be a string"));
                    Skip(ref reader);
                }

                _index++;
                break;
            case Expect.Record:
                if (token == JsonTokenType.EndArray)
                {
                    _result.RecordCount = _index;
                    _expect = Expect.TopProperty;
                }
                else if (token == JsonTokenType.StartObject)
                {
                    StartRecord();
                    _inRecord = true;
                    _expect = Expect.RecordProperty;
                }
                else
                {
                    _topValues.Add(new ValidationDetail(RecordPrefix(), token == JsonTokenType.Null ? "must not be null" : "must be an object"));
                    Skip(ref reader);
                    _index++;
                }

                break;
            case Expect.TopValue:
            case Expect.RecordValue:
                bool top = _expect == Expect.TopValue;
                _expect = top ? Expect.TopProperty : Expect.RecordProperty;
                if (AcceptedValue(ref reader, top ? _topNaming : _recordNaming))
                {
                    if (top)
                    {
                        TopValue(ref reader);
                    }
                    else
                    {
                        RecordValue(ref reader);
                    }
                }

                break;
        }
    }

    /// <summary>
    /// Classifies a property name: returns the index of a known field seen for the first time, or -1 (an unknown or
    /// repeated field, reported). Every known name counts as present ("is required"), repeated or not.
    /// </summary>
    private int Name(ref Utf8JsonReader reader, string[] known, byte[][] knownUtf8, ref int seen, ref int present, List<ValidationDetail> naming)
    {
        int index = -1;
        for (int i = 0; i < knownUtf8.Length; i++)
        {
            if (reader.ValueTextEquals(knownUtf8[i]))
            {
                index = i;
                break;
            }
        }

        _pendingName = index >= 0 ? known[index] : Text(ref reader) ?? "";
        if (index < 0)
        {
            naming.Add(new ValidationDetail(PendingField(), "is not a known field"));
            return -1;
        }

        present |= 1 << index;
        if (Has(seen, index))
        {
            naming.Add(new ValidationDetail(PendingField(), "is given more than once"));
            return -1;
        }

        seen |= 1 << index;
        return index;
    }

    /// <summary>True when the value of the pending property is to be checked; else it is skipped (and a null reported).</summary>
    private bool AcceptedValue(ref Utf8JsonReader reader, List<ValidationDetail> naming)
    {
        if (_pending < 0)
        {
            Skip(ref reader);
            return false;
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            naming.Add(new ValidationDetail(PendingField(), ResultsValidator.NullMessage));
            return false;
        }

        return true;
    }

    private void TopValue(ref Utf8JsonReader reader)
    {
        JsonTokenType token = reader.TokenType;
        switch (_pending)
        {
            case TopStatus:
                string? status = token == JsonTokenType.String ? Text(ref reader) : null;
                if (status is "success" or "error")
                {
                    _result.Status = status;
                }
                else
                {
                    _topValues.Add(new ValidationDetail("status", "must be \"success\" or \"error\""));
                    Skip(ref reader);
                }

                break;
            case TopMessage:
                _result.Message = RequireString(ref reader, _topValues);
                break;
            case TopErrorMessage:
                _result.ErrorMessage = RequireString(ref reader, _topValues);
                break;
            case TopKeyFieldNames:
                StartArray(ref reader, Expect.KeyFieldName, "must be an array of strings");
                break;
            case TopRecords:
                StartArray(ref reader, Expect.Record, "must be an array");
                break;
        }
    }

    /// <summary>Steps into a top-level array, its items read as <paramref name="items"/>; anything else is a problem.</summary>
    private void StartArray(ref Utf8JsonReader reader, Expect items, string problem)
    {
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            _index = 0;
            _expect = items;
        }
        else
        {
            _topValues.Add(new ValidationDetail(_pendingName, problem));
            Skip(ref reader);
        }
    }

    private void RecordValue(ref Utf8JsonReader reader)
    {
        switch (_pending)
        {
            case RecordId:
                _recordId = RequireNonEmptyString(ref reader);
                break;
            case RecordStatus:
                _recordStatus = RequireNonEmptyString(ref reader);
                break;
            case RecordData:
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    _recordValues.Add(new ValidationDetail(PendingField(), "must be an object"));
                }

                Skip(ref reader);
                break;
            case RecordErrorMessage:
                _recordErrorMessage = RequireString(ref reader, _recordValues);
                break;
        }
    }

    private void StartRecord()
    {
        _recordSeen = 0;
        _recordPresent = 0;
        _recordId = null;
        _recordStatus = null;
        _recordErrorMessage = null;
        _recordNaming.Clear();
        _recordValues.Clear();
    }

    private void EndRecord()
    {
        _topValues.AddRange(_recordNaming);
        _topValues.AddRange(_recordValues);
        if (!Has(_recordPresent, RecordId))
        {
            _topValues.Add(new ValidationDetail(RecordPrefix() + ".record_id", "is required"));
        }

        if (!Has(_recordPresent, RecordStatus))
        {
            _topValues.Add(new ValidationDetail(RecordPrefix() + ".status", "is required"));
        }

        if (_recordId is not null)
        {
            if (_firstIndexById.TryGetValue(_recordId, out int first))
            {
                _topValues.Add(new ValidationDetail(RecordPrefix() + ".record_id", $"duplicates records[{first}].record_id '{_recordId}'"));
            }
            else
            {
                _firstIndexById[_recordId] = _index;
            }
        }

        if (_recordId is not null && _recordStatus is not null && (_recordErrorMessage is not null || _recordStatus is "error" or "not_found"))
        {
            _result.RecordErrors.Add(new RecordError(_recordId, _recordStatus, _recordErrorMessage));
        }
    }

    private static bool Has(int flags, int field) => (flags & (1 << field)) != 0;

    private string RecordPrefix() => $"records[{_index}]";

    /// <summary>The pending property's field path, made only for a problem.</summary>
    private string PendingField() => _inRecord ? RecordPrefix() + "." + _pendingName : _pendingName;

    private string? RequireString(ref Utf8JsonReader reader, List<ValidationDetail> problems)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return Text(ref reader);
        }

        problems.Add(new ValidationDetail(PendingField(), "must be a string"));
        Skip(ref reader);
        return null;
    }

    private string? RequireNonEmptyString(ref Utf8JsonReader reader)
    {
        string? text = RequireString(ref reader, _recordValues);
        if (text is not null && text.Length == 0)
        {
            _recordValues.Add(new ValidationDetail(PendingField(), "must not be empty"));
            return null;
        }

        return text;
    }

    /// <summary>A string token's text; text that is not UTF-8 is remembered and thrown once the syntax is known good.</summary>
    private string? Text(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException ex)
        {
            _unreadableText ??= ExceptionDispatchInfo.Capture(ex);
            return null;
        }
    }

    /// <summary>Skips the current value: nothing more for a scalar, the tokens up to its end for an object or array.</summary>
    private void Skip(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            _skipDepth = reader.CurrentDepth;
        }
    }
}
