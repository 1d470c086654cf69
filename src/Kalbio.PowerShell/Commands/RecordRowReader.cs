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
    /// Reads one row (Import-Csv, ConvertFrom-Json, a hashtable, a plain id, a <see cref="KalRecordResult"/>) the way
    /// New-KalRecordResult does: the record id, status and error message under either naming convention, and the data
    /// from -DataProperty columns, the row's data property, or -Data. Submit-KalRegistrationResult -DataProperty uses
    /// the same reader, so both read the same columns with the same errors.
    /// </summary>
    internal sealed class RecordRowReader
    {
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
        /// Reads the fields of <paramref name="row"/> that are still null (values given as parameters win) and returns its
        /// data: the -DataProperty columns, the row's own data, or a copy of -Data. Throws <see cref="RecordProblem"/>.
        /// </summary>
        [MethodImpl(HotPath.Optimize)]
        public IDictionary? Read(PSObject? row, ref string? recordId, ref string? status, ref string? errorMessage)
        {
            IDictionary? data = row is null ? null : ReadRow(row, ref recordId, ref status, ref errorMessage);
            return data ?? (_fixedData is null ? null : Copy(_fixedData));
        }

        [MethodImpl(HotPath.Optimize)]
        private IDictionary? ReadRow(PSObject row, ref string? recordId, ref string? status, ref string? errorMessage)
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
                    recordId ??= Field(dictionary, "record_id", "RecordId", "record_id");
                    status ??= Field(dictionary, "status", "Status", "status");
                    errorMessage ??= Field(dictionary, "error_message", "ErrorMessage", "error_message");
                    if (_dataNames != null)
                    {
                        return FromColumns(dictionary.Contains, name => dictionary[name]);
                    }

                    return _fixedData is null && (dictionary["data"] ?? dictionary["Data"]) is { } dictionaryData ? RowData(dictionaryData) : null;
                case string _:
                case ValueType _:
                    // A plain id, e.g. $event.record_ids | New-KalRecordResult -Status not_found.
                    recordId ??= RecordInput.Text(value, "record id");
                    if (_dataNames != null)
                    {
                        throw Problem("DataPropertyNotFound", $"is {RecordInput.Describe(value)}, which has no properties to copy with -DataProperty.");
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
                PSPropertyInfo? idProperty = properties["record_id"];
                snakeCase = idProperty != null;
                recordId = RecordInput.Text((idProperty ?? properties["RecordId"])?.Value, "record_id");
                if (recordId is null)
                {
                    snakeCase = null;
                }
            }

            status ??= RecordInput.Text(properties["status"]?.Value, "status");
            if (errorMessage is null)
            {
                PSPropertyInfo? messageProperty = snakeCase == true ? properties["error_message"]
                    : snakeCase == false ? properties["ErrorMessage"]
                    : properties["error_message"] ?? properties["ErrorMessage"];
                errorMessage = RecordInput.Text(messageProperty?.Value, "error_message");
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

            return _fixedData is null && properties["data"]?.Value is { } rowData && RecordInput.Data(rowData) != null ? RowData(rowData) : null;
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
                : RecordInput.Describe(unwrapped);
        }

        public static string? NonEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

        private static KalRecordData RowData(object value) =>
            ToData(value) ?? throw Problem("RecordDataNotAnObject", $"has data that is {DescribeData(value)}; data must be a hashtable or an object with properties (field name -> value).");

        private static KalRecordData? Copy(IDictionary? data) => data is null ? null : ToData(data);

        private static string? Field(IDictionary dictionary, string name, string alternative, string field) =>
            RecordInput.Text(dictionary[name] ?? dictionary[alternative], field);

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

        private static RecordProblem Problem(string errorId, string predicate) => new RecordProblem(errorId, predicate, null);
    }
}
