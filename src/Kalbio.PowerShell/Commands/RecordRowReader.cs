using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using Kalbio.Core;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// The one reader of record results from PowerShell input, for New-KalRecordResult and Submit-KalRegistrationResult
    /// (-Record, and piped rows with -DataProperty), with one set of rules: the fields are record_id (or RecordId),
    /// status, data and error_message (or ErrorMessage), names matched case-insensitively; text fields are text as is,
    /// numbers and GUIDs as invariant text, and null, empty or blank text is absent; data must be a dictionary or an
    /// object with properties.
    /// </summary>
    /// <remarks>
    /// It reads in one of two ways. A row reader (<see cref="RecordRowReader(string[], KalRecordData)"/>) reads a row
    /// (Import-Csv, ConvertFrom-Json, a hashtable, a plain id, a <see cref="KalRecordResult"/>): it takes the fields it
    /// finds, under the naming convention of the row's record id property, ignores the row's other columns, and takes
    /// the data from the -DataProperty columns, the row's data, or -Data. <see cref="RecordResults"/> reads input that
    /// must itself be a record result (Submit's -Record): a property that is not a field is refused rather than
    /// dropped (the API refuses unknown fields), a field given twice must agree, a plain value is not a result, and the
    /// data is passed on as it is for the payload writer to check.
    /// </remarks>
    internal sealed class RecordRowReader
    {
        private const string FieldList = RecordFieldNames.List;
        private const string RecordIdName = RecordFieldNames.RecordId;
        private const string RecordIdAlias = RecordFieldNames.RecordIdAlias;
        private const string StatusName = RecordFieldNames.Status;
        private const string DataName = RecordFieldNames.Data;
        private const string ErrorMessageName = RecordFieldNames.ErrorMessage;
        private const string ErrorMessageAlias = RecordFieldNames.ErrorMessageAlias;

        /// <summary>Reads input that must be a record result.</summary>
        public static readonly RecordRowReader RecordResults = new RecordRowReader();

        private readonly bool _wholeResults;
        private readonly string[]? _dataNames;
        private readonly KalRecordData? _fixedData;

        /// <param name="dataProperty">The columns to copy into data, checked with <see cref="CheckDataProperty"/>; copied here.</param>
        /// <param name="fixedData">-Data, already converted with <see cref="ToData"/>; each row gets its own copy.</param>
        public RecordRowReader(string[]? dataProperty, KalRecordData? fixedData)
        {
            // The results share one copy of the names (the caller's array could change later).
            _dataNames = dataProperty is null ? null : (string[])dataProperty.Clone();
            _fixedData = fixedData;
        }

        private RecordRowReader() => _wholeResults = true;


        /// <summary>Null when the names can be used as -DataProperty, else what is wrong with them.</summary>
        public static string? CheckDataProperty(string[] names)
        {
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (string? name in names)
            {
                if (string.IsNullOrWhiteSpace(name))
                {
                    return "-DataProperty has an empty name.";
                }

                if (!seen.Add(name!))
                {
                    return $"-DataProperty lists '{name}' twice.";
                }
            }

            return null;
        }

        /// <summary>
        /// Reads <paramref name="item"/>: the fields that <paramref name="given"/> does not have (values given as
        /// parameters win), and its data. Throws <see cref="RecordProblem"/>.
        /// </summary>
        [MethodImpl(HotPath.Optimize)]
        public RecordFields Read(object? item, RecordFields given = default)
        {
            if (item is null || (item is PSObject empty && empty.BaseObject is null))
            {
                throw Problem("RecordResultEmpty", "is empty ($null), not a record result.");
            }

            if (_wholeResults)
            {
                return ReadResult(item);
            }

            given.Data = ReadRow(item as PSObject ?? PSObject.AsPSObject(item), ref given.RecordId, ref given.Status, ref given.ErrorMessage) ?? FixedData();
            return given;
        }

        /// <summary>A result from parameters alone (no row): <paramref name="given"/> and a copy of -Data.</summary>
        public RecordFields WithoutRow(RecordFields given)
        {
            given.Data = FixedData();
            return given;
        }

        /// <summary>A text field: text as is, numbers and GUIDs as invariant text; null, empty or blank text is absent.</summary>
        [MethodImpl(HotPath.Optimize)]
        public static string? Text(object? value, string field)
        {
            if (value is PSObject wrapped)
            {
                value = wrapped.BaseObject;
            }

            switch (value)
            {
                case null:
                    return null;
                case string text:
                    return NonEmpty(text);
                case Guid _:
                case char _:
                case IConvertible _ when !(value is bool) && !(value is DateTime):
                    return NonEmpty(Convert.ToString(value, CultureInfo.InvariantCulture));
            }

            throw Problem("RecordFieldNotText", $"has a {field} that is {Describe(value)}; it must be text.");
        }

        public static string Describe(object? value)
        {
            switch (value)
            {
                case null:
                    return "empty";
                case string text:
                    return text.Length > 40 ? $"the text '{text.Substring(0, 40)}…'" : $"the text '{text}'";
                case ValueType _:
                    return $"the {value.GetType().Name} {Convert.ToString(value, CultureInfo.InvariantCulture)}";
                default:
                    return "a " + value.GetType().FullName;
            }
        }

        private KalRecordData? FixedData() => _fixedData is null ? null : Copy(_fixedData);

        /// <summary>A data value that is absent when null; anything else is checked where it is used.</summary>
        private static object? Data(object? value) => value is PSObject wrapped && wrapped.BaseObject is null ? null : value;

        [MethodImpl(HotPath.Optimize)]
        private static RecordFields ReadResult(object item)
        {
            object value = item is PSObject wrapped ? wrapped.BaseObject : item;
            var fields = new RecordFields();
            switch (value)
            {
                case KalRecordResult typed:
                    return new RecordFields { RecordId = NonEmpty(typed.RecordId), Status = NonEmpty(typed.Status), Data = typed.Data, ErrorMessage = NonEmpty(typed.ErrorMessage) };
                case IDictionary dictionary:
                    foreach (DictionaryEntry entry in dictionary)
                    {
                        if (!(entry.Key is string name))
                        {
                            throw Problem("RecordFieldUnknown", $"has a key that is {Describe(entry.Key)}; the keys of a record result are {FieldList}.");
                        }

                        AssignField(ref fields, default, name, entry.Value);
                    }

                    return fields;
                case string _:
                case ValueType _:
                    throw Problem("RecordResultUnrecognized", $"is {Describe(value)}, not a record result. Pass New-KalRecordResult output, hashtables or objects with {FieldList}.");
            }

            foreach (PSPropertyInfo property in (item as PSObject ?? PSObject.AsPSObject(value)).Properties)
            {
                if (property.IsGettable)
                {
                    AssignField(ref fields, default, property.Name, property.Value);
                }
            }

            return fields;
        }

        /// <summary>A named value of a record result: a field, or an error.</summary>
        private static void AssignField(ref RecordFields fields, RecordFields given, string name, object? value)
        {
            if (!Assign(ref fields, given, name, value))
            {
                throw Problem(
                    "RecordFieldUnknown",
                    $"has a field '{name}', which a record result does not have (its fields are {FieldList}). Put record data under data, e.g. with New-KalRecordResult -DataProperty {name}.");
            }
        }

        /// <summary>
        /// Reads a named value into its field (false when the name is not a field's): not read when a parameter gave
        /// the field; a field given twice (under both names) must agree.
        /// </summary>
        private static bool Assign(ref RecordFields fields, RecordFields given, string name, object? value)
        {
            switch (RecordFieldNames.Of(name))
            {
                case RecordField.RecordId:
                    fields.RecordId = given.RecordId ?? Once(fields.RecordId, Text(value, RecordIdName), name);
                    return true;
                case RecordField.Status:
                    fields.Status = given.Status ?? Once(fields.Status, Text(value, StatusName), name);
                    return true;
                case RecordField.Data:
                    fields.Data = Data(value);
                    return true;
                case RecordField.ErrorMessage:
                    fields.ErrorMessage = given.ErrorMessage ?? Once(fields.ErrorMessage, Text(value, ErrorMessageName), name);
                    return true;
                default:
                    return false;
            }
        }

        private static string? Once(string? current, string? value, string name)
        {
            if (current != null && value != null && !string.Equals(current, value, StringComparison.Ordinal))
            {
                throw Problem("RecordFieldUnknown", $"gives {name} twice with different values ('{current}' and '{value}').");
            }

            return value ?? current;
        }

        [MethodImpl(HotPath.Optimize)]
        private KalRecordData? ReadRow(PSObject row, ref string? recordId, ref string? status, ref string? errorMessage)
        {
            object? value = row.BaseObject;
            switch (value)
            {
                case KalRecordResult typed:
                    recordId ??= NonEmpty(typed.RecordId);
                    status ??= NonEmpty(typed.Status);
                    errorMessage ??= NonEmpty(typed.ErrorMessage);
                    return _dataNames != null ? FromColumns(name => typed.Data != null && typed.Data.Contains(name), name => typed.Data![name]) : Copy(typed.Data);
                case IDictionary dictionary:
                    var given = new RecordFields { RecordId = recordId, Status = status, ErrorMessage = errorMessage };
                    var read = given;
                    foreach (DictionaryEntry entry in dictionary)
                    {
                        if (entry.Key is string name)
                        {
                            Assign(ref read, given, name, entry.Value);
                        }
                    }

                    recordId = read.RecordId;
                    status = read.Status;
                    errorMessage = read.ErrorMessage;
                    if (_dataNames != null)
                    {
                        return FromColumns(dictionary.Contains, name => dictionary[name]);
                    }

                    return _fixedData is null && read.Data is { } dictionaryData ? RowData(dictionaryData) : null;
                case string _:
                case ValueType _:
                    // A plain id, e.g. $event.record_ids | New-KalRecordResult -Status not_found.
                    recordId ??= Text(value, "record id");
                    if (_dataNames != null)
                    {
                        throw Problem("DataPropertyNotFound", $"is {Describe(value)}, which has no properties to copy with -DataProperty.");
                    }

                    return null;
            }

            // Each property that a row lacks costs a slow lookup (PowerShell searches the adapters and the type table
            // after the row's own properties), so the error message is looked up under one name when the row's
            // record id property tells which naming convention it uses.
            PSMemberInfoCollection<PSPropertyInfo> properties = row.Properties;
            bool? snakeCase = null;
            if (recordId is null)
            {
                PSPropertyInfo? idProperty = properties[RecordIdName];
                snakeCase = idProperty != null;
                recordId = Text((idProperty ?? properties[RecordIdAlias])?.Value, RecordIdName);
                if (recordId is null)
                {
                    snakeCase = null;
                }
            }

            status ??= Text(properties[StatusName]?.Value, StatusName);
            if (errorMessage is null)
            {
                PSPropertyInfo? messageProperty = snakeCase == true ? properties[ErrorMessageName]
                    : snakeCase == false ? properties[ErrorMessageAlias]
                    : properties[ErrorMessageName] ?? properties[ErrorMessageAlias];
                errorMessage = Text(messageProperty?.Value, ErrorMessageName);
            }

            if (_dataNames != null)
            {
                string[] names = _dataNames;
                var values = new object?[names.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    PSPropertyInfo? property = properties[names[i]];
                    if (property is null)
                    {
                        throw MissingColumn(names[i], Names(properties));
                    }

                    values[i] = property.Value;
                }

                return new KalRecordData(names, values);
            }

            return _fixedData is null && Data(properties[DataName]?.Value) is { } rowData ? RowData(rowData) : null;
        }

        private KalRecordData FromColumns(Func<string, bool> has, Func<string, object?> get)
        {
            var data = KalRecordResult.NewData(_dataNames!.Length);
            foreach (string name in _dataNames)
            {
                if (!has(name))
                {
                    throw MissingColumn(name, null);
                }

                data.Add(name, get(name));
            }

            return data;
        }

        /// <summary>
        /// Data as an ordered dictionary: a dictionary's entries or a custom object's properties, values kept as they
        /// are; null when <paramref name="value"/> is neither.
        /// </summary>
        public static KalRecordData? ToData(object value)
        {
            object? unwrapped = value is PSObject wrapped ? wrapped.BaseObject : value;
            if (unwrapped is IDictionary dictionary)
            {
                var copy = KalRecordResult.NewData(dictionary.Count);
                foreach (DictionaryEntry entry in dictionary)
                {
                    copy[Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty] = entry.Value;
                }

                return copy;
            }

            if (unwrapped is PSCustomObject && value is PSObject custom)
            {
                var data = KalRecordResult.NewData();
                foreach (PSPropertyInfo property in custom.Properties)
                {
                    if (property.IsGettable)
                    {
                        data[property.Name] = property.Value;
                    }
                }

                return data;
            }

            return null;
        }

        public static string DescribeData(object value)
        {
            object? unwrapped = value is PSObject wrapped ? wrapped.BaseObject : value;
            return unwrapped is ScriptBlock
                ? "a script block (to compute data for each row, use ForEach-Object { New-KalRecordResult ... -Data @{ ... } })"
                : Describe(unwrapped);
        }

        public static string? NonEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

        private static KalRecordData RowData(object value) =>
            ToData(value) ?? throw Problem("RecordDataNotAnObject", $"has data that is {DescribeData(value)}; data must be a hashtable or an object with properties (field name -> value).");

        private static KalRecordData? Copy(IDictionary? data) => data is null ? null : ToData(data);

        private static string Names(PSMemberInfoCollection<PSPropertyInfo> properties)
        {
            var names = new List<string>();
            foreach (PSPropertyInfo property in properties)
            {
                names.Add(property.Name);
            }

            return string.Join(", ", names);
        }

        private static RecordProblem MissingColumn(string name, string? available) =>
            Problem("DataPropertyNotFound", $"has no property '{name}' to copy into data{(string.IsNullOrEmpty(available) ? string.Empty : $" (it has: {available})")}. Check the names given to -DataProperty.");

        private static RecordProblem Problem(string errorId, string predicate) => new RecordProblem(errorId, predicate);
    }
}
