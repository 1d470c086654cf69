using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using Kalbio.Core;
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
        private RecordRowReader? _reader;
        private UnknownStatusWarnings? _statusWarnings;

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

            if (DataProperty != null && RecordRowReader.CheckDataProperty(DataProperty) is { } wrongNames)
            {
                ThrowTerminatingError(KalErrors.Create("InvalidDataProperty", ErrorCategory.InvalidArgument, wrongNames, DataProperty));
            }

            KalRecordData? fixedData = null;
            if (Data != null)
            {
                fixedData = RecordRowReader.ToData(Data);
                if (fixedData is null)
                {
                    ThrowTerminatingError(KalErrors.Create("RecordDataNotAnObject", ErrorCategory.InvalidArgument, $"-Data must be a hashtable or an object with properties (field name -> value), but it is {RecordRowReader.DescribeData(Data)}.", Data));
                }
            }

            _reader = new RecordRowReader(DataProperty, fixedData);
            _statusWarnings = new UnknownStatusWarnings(WriteWarning);
        }

        [MethodImpl(HotPath.Optimize)]
        protected override void ProcessRecord()
        {
            _index++;
            PSObject? row = InputObject;
            var given = new RecordFields
            {
                RecordId = RecordRowReader.NonEmpty(RecordId),
                Status = RecordRowReader.NonEmpty(Status),
                ErrorMessage = RecordRowReader.NonEmpty(ErrorMessage),
            };
            try
            {
                RecordFields fields = row is null ? _reader!.WithoutRow(given) : _reader!.Read(row, given);
                if (fields.RecordId is null)
                {
                    throw new RecordProblem("RecordIdMissing", "has no record id. Give -RecordId, or pipe objects with a RecordId or record_id property.");
                }

                if (fields.Status is null)
                {
                    throw new RecordProblem("RecordStatusMissing", "has no status. Give -Status (matched, not_found, created, error, ...), or pipe objects with a Status property.");
                }

                _statusWarnings!.Check(fields.Status);
                WriteObject(new KalRecordResult(fields.RecordId, fields.Status, (IDictionary?)fields.Data, fields.ErrorMessage));
            }
            catch (RecordProblem problem)
            {
                string subject = row is null ? "The record result" : $"Input [{_index.ToString(CultureInfo.InvariantCulture)}]";
                string message = subject + " " + problem.Message;
                // A Submit-KalRegistrationResult further down this pipeline refuses to send because of this row, even
                // when this error is silenced (-ErrorAction SilentlyContinue).
                UnreadRows.Report(problem.ErrorId, message);
                WriteError(KalErrors.Create(problem.ErrorId, ErrorCategory.InvalidData, message, row ?? (object?)given.RecordId));
            }
        }
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
