using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Creates the result for one record: from parameters, or from each piped row (Import-Csv, ConvertFrom-Json,
    /// hashtables, plain ids), reading RecordId/record_id, Status, ErrorMessage/error_message and Data/data from it
    /// when they are not given, and -DataProperty columns into Data.
    /// </summary>
    /// <remarks>
    /// Piped rows are bound whole to -InputObject and read here, instead of binding each parameter by property name:
    /// the binder's per-property work, and a second parameter set, were most of the per-row cost. The price is that
    /// delay-bind script blocks (-RecordId { $_.x }) are not supported; they are refused with a clear error rather
    /// than taken as text. A row's fields are read under one naming convention, picked by its record id property:
    /// record_id, status, error_message, data (the API's), or RecordId, Status, ErrorMessage, Data.
    /// </remarks>
    [Cmdlet(VerbsCommon.New, "KalRecordResult")]
    [OutputType(typeof(KalRecordResult))]
    public sealed class NewKalRecordResultCommand : KalCmdlet
    {
        private int _index = -1;
        private string[]? _dataNames;
        private KalRecordData? _fixedData;

        [Parameter(Position = 0)]
        [Alias("record_id")]
        [NoScriptBlock]
        public string? RecordId { get; set; }

        [Parameter(Position = 1)]
        [ArgumentCompleter(typeof(RecordStatusCompleter))]
        [NoScriptBlock]
        public string? Status { get; set; }

        /// <summary>The record's data: a hashtable ([ordered] keeps its order) or an object whose properties become the fields.</summary>
        [Parameter]
        public object? Data { get; set; }

        /// <summary>Properties (columns) of the piped row to copy into Data, in this order.</summary>
        [Parameter]
        public string[]? DataProperty { get; set; }

        [Parameter]
        [Alias("error_message")]
        [NoScriptBlock]
        public string? ErrorMessage { get; set; }

        /// <summary>The row to read the result from (usually piped).</summary>
        [Parameter(ValueFromPipeline = true)]
        public PSObject? InputObject { get; set; }

        protected override void BeginProcessing()
        {
            // Values given on the command line are checked once here; delay-bound ones (-RecordId { ... }) are not set
            // yet, and are checked for each row.
            if (RecordId != null && string.IsNullOrWhiteSpace(RecordId))
            {
                ThrowTerminatingError(KalErrors.Create("RecordIdMissing", ErrorCategory.InvalidArgument, "-RecordId is empty. Give the id of the record this result is for.", RecordId));
            }

            if (Status != null && string.IsNullOrWhiteSpace(Status))
            {
                ThrowTerminatingError(KalErrors.Create("RecordStatusMissing", ErrorCategory.InvalidArgument, "-Status is empty. Give a status such as matched, not_found, created or error.", Status));
            }

            if (Data != null && DataProperty != null)
            {
                ThrowTerminatingError(KalErrors.Create("DataAndDataProperty", ErrorCategory.InvalidArgument, "Give -Data or -DataProperty, not both.", null));
            }

            if (DataProperty != null)
            {
                // The results share one copy of the names (the caller's array could change later).
                _dataNames = (string[])DataProperty.Clone();
                var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (string? name in DataProperty)
                {
                    if (string.IsNullOrWhiteSpace(name) || !seen.Add(name!))
                    {
                        ThrowTerminatingError(KalErrors.Create("InvalidDataProperty", ErrorCategory.InvalidArgument, string.IsNullOrWhiteSpace(name) ? "-DataProperty has an empty name." : $"-DataProperty lists '{name}' twice.", DataProperty));
                    }
                }
            }

            if (Data != null)
            {
                _fixedData = ToData(Data);
                if (_fixedData is null)
                {
                    ThrowTerminatingError(KalErrors.Create("RecordDataNotAnObject", ErrorCategory.InvalidArgument, $"-Data must be a hashtable or an object with properties (field name -> value), but it is {DescribeData(Data)}.", Data));
                }
            }
        }

        [MethodImpl(HotPath.Optimize)]
        protected override void ProcessRecord()
        {
            _index++;
            PSObject? row = InputObject;
            string? recordId = NonEmpty(RecordId);
            string? status = NonEmpty(Status);
            string? errorMessage = NonEmpty(ErrorMessage);
            IDictionary? data = _fixedData;
            try
            {
                if (row != null)
                {
                    data = ReadRow(row, ref recordId, ref status, ref errorMessage) ?? data;
                    recordId = NonEmpty(recordId);
                    status = NonEmpty(status);
                    errorMessage = NonEmpty(errorMessage);
                }

                if (recordId is null)
                {
                    throw Problem("RecordIdMissing", "has no record id. Give -RecordId, or pipe objects with a RecordId or record_id property.");
                }

                if (status is null)
                {
                    throw Problem("RecordStatusMissing", "has no status. Give -Status (matched, not_found, created, error, ...), or pipe objects with a Status property.");
                }

                // Each result gets its own copy of -Data, so changing one result's data does not change the others.
                WriteObject(new KalRecordResult(recordId, status, data != null && ReferenceEquals(data, _fixedData) ? Copy(_fixedData!) : data, errorMessage));
            }
            catch (RecordProblem problem)
            {
                string subject = row is null ? "The record result" : $"Input [{_index.ToString(CultureInfo.InvariantCulture)}]";
                WriteError(KalErrors.Create(problem.ErrorId, ErrorCategory.InvalidData, subject + " " + problem.Message, row ?? (object?)recordId));
            }
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
                    return DataProperty != null ? FromColumns(name => typed.Data != null && typed.Data.Contains(name), name => typed.Data![name]) : Copy(typed.Data);
                case IDictionary dictionary:
                    recordId ??= Field(dictionary, "record_id", "RecordId", "record_id");
                    status ??= Field(dictionary, "status", "Status", "status");
                    errorMessage ??= Field(dictionary, "error_message", "ErrorMessage", "error_message");
                    if (DataProperty != null)
                    {
                        return FromColumns(dictionary.Contains, name => dictionary[name]);
                    }

                    return _fixedData is null && (dictionary["data"] ?? dictionary["Data"]) is { } dictionaryData ? RowData(dictionaryData) : null;
                case string _:
                case ValueType _:
                    // A plain id, e.g. $event.record_ids | New-KalRecordResult -Status not_found.
                    recordId ??= RecordInput.Text(value, "record id");
                    if (DataProperty != null)
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
            if (DataProperty != null)
            {
                string[] names = _dataNames!;
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
            var data = KalRecordResult.NewData(DataProperty!.Length);
            foreach (string name in DataProperty)
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
        private static KalRecordData? ToData(object value)
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

        private static KalRecordData RowData(object value) =>
            ToData(value) ?? throw Problem("RecordDataNotAnObject", $"has data that is {DescribeData(value)}; data must be a hashtable or an object with properties (field name -> value).");

        private static string DescribeData(object value)
        {
            object? unwrapped = value is PSObject wrapped ? wrapped.BaseObject : value;
            return unwrapped is ScriptBlock
                ? "a script block (to compute data for each row, use ForEach-Object { New-KalRecordResult ... -Data @{ ... } })"
                : RecordInput.Describe(unwrapped);
        }

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

        private static string? NonEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
    }

    /// <summary>
    /// Refuses a script block for a text parameter, which PowerShell would otherwise take as its source text. (Such
    /// script blocks are delay-bind arguments only for parameters bound by property name, which these are not.)
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    internal sealed class NoScriptBlockAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            if ((inputData is PSObject wrapped ? wrapped.BaseObject : inputData) is ScriptBlock)
            {
                throw new ArgumentTransformationMetadataException(
                    "A script block is not accepted here. To compute the value for each row, use ForEach-Object { New-KalRecordResult -RecordId $_.CompoundId ... }, or add the property first: Select-Object @{ Name = 'record_id'; Expression = { ... } }, *.");
            }

            return inputData;
        }
    }
}
