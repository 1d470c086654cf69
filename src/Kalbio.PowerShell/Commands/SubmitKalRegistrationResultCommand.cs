using System;
using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Submits the results of a registration file: an overall status, optional message and key field names, and every
    /// record result from -Record or the pipeline, in ONE request sent at the end.
    /// </summary>
    /// <remarks>
    /// Each record is validated and written to the JSON body as it arrives, so memory follows the body's bytes. Any
    /// invalid record (or, with -ExpectedRecordId, a missing or unexpected id) refuses the whole submission: each bad
    /// record is a non-terminating error (the first <see cref="MaximumRecordErrors"/> of them), the pipeline is read to
    /// the end so all problems are counted, and then one terminating error says that nothing was sent.
    /// </remarks>
    [Cmdlet(VerbsLifecycle.Submit, "KalRegistrationResult", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = RecordSet)]
    [OutputType(typeof(KalResultSubmission))]
    public sealed class SubmitKalRegistrationResultCommand : KalConnectedCmdlet
    {
        public const int MaximumRecordErrors = 10;
        private const string RecordSet = "Record";
        private const string PathSet = "Path";
        private const string LiteralPathSet = "LiteralPath";
        private const int ProgressActivityId = (int)ProgressActivity.SubmitKalRegistrationResult;
        private const string Activity = "Submitting registration results";

        private readonly Stopwatch _elapsed = new Stopwatch();
        private readonly Stopwatch _sinceProgress = new Stopwatch();
        private ResultsPayloadBuilder? _builder;
        private RegistrationRef? _registration;
        private RecordRowReader? _rowReader;
        private UnknownStatusWarnings? _statusWarnings;
        private UnreadRows? _unreadRows;
        private Task? _connecting;
        private (string Path, System.Text.Encoding? Encoding)? _file;
        private int _reportedErrors;
        private bool _progressShown;

        [Parameter(Mandatory = true, Position = 0)]
        [Alias("operation_id")]
        public string OperationId { get; set; } = string.Empty;

        [Parameter(Mandatory = true, Position = 1)]
        [Alias("file_id")]
        public string FileId { get; set; } = string.Empty;

        /// <summary>The overall status: success (the default) or error.</summary>
        [Parameter]
        [ValidateSet("success", "error")]
        public string Status { get; set; } = "success";

        /// <summary>Why the file failed, or any note; sent as both message and error_message.</summary>
        [Parameter]
        [Alias("Message")]
        public string? ErrorMessage { get; set; }

        /// <summary>Which keys of each record's data are key fields, e.g. id, name.</summary>
        [Parameter]
        public string[]? KeyFieldName { get; set; }

        /// <summary>The record results: New-KalRecordResult output, hashtables, or objects with record_id and status.</summary>
        [Parameter(ValueFromPipeline = true, ParameterSetName = RecordSet)]
        public object?[]? Record { get; set; }

        /// <summary>A results file (wildcards allowed, one file): JSON Lines when it ends in .jsonl or .ndjson, else CSV; read without an object per row.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet)]
        public string? Path { get; set; }

        /// <summary>A results file (CSV or JSON Lines), its path taken as it is.</summary>
        [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
        [Alias("PSPath", "LP")]
        public string? LiteralPath { get; set; }

        /// <summary>The CSV delimiter of -Path (default: comma); refused with a JSON Lines file.</summary>
        [Parameter(ParameterSetName = PathSet)]
        [Parameter(ParameterSetName = LiteralPathSet)]
        public char Delimiter { get; set; } = ',';

        /// <summary>The text encoding of a CSV -Path when it has no byte order mark (default: UTF-8); a JSON Lines file is UTF-8.</summary>
        [Parameter(ParameterSetName = PathSet)]
        [Parameter(ParameterSetName = LiteralPathSet)]
        [ArgumentCompleter(typeof(TextEncodingCompleter))]
        public string? Encoding { get; set; }

        /// <summary>The record ids the results must cover exactly, e.g. the event's record_ids.</summary>
        [Parameter]
        [AllowEmptyCollection]
        public string[]? ExpectedRecordId { get; set; }

        /// <summary>Columns of each piped row to send as its data, read as New-KalRecordResult -DataProperty reads them.</summary>
        [Parameter]
        public string[]? DataProperty { get; set; }

        /// <summary>Send a success with no record results when the input has none (refused otherwise).</summary>
        [Parameter]
        public SwitchParameter AllowEmpty { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void BeginProcessing()
        {
            _elapsed.Start();
            _sinceProgress.Start();
            if (MyInvocation.BoundParameters.ContainsKey(nameof(ExpectedRecordId)) && ExpectedRecordId is null)
            {
                ThrowTerminatingError(KalErrors.Create(
                    "InvalidExpectedRecordId",
                    ErrorCategory.InvalidArgument,
                    "-ExpectedRecordId is null. Pass the record ids the results must cover (e.g. $event.record_ids), @() for none, or leave the parameter out.",
                    null));
            }

            if (DataProperty != null && RecordRowReader.CheckDataProperty(DataProperty) is { } wrongNames)
            {
                ThrowTerminatingError(KalErrors.Create("InvalidDataProperty", ErrorCategory.InvalidArgument, wrongNames, DataProperty));
            }

            try
            {
                _registration = RegistrationRef.To(OperationId, FileId);
                _builder = new ResultsPayloadBuilder(
                    Status.ToLowerInvariant(),
                    ErrorMessage,
                    KeyFieldName,
                    ExpectedRecordId,
                    PowerShellJsonAdapter.CreateWriter());
            }
            catch (KalInputException ex)
            {
                ThrowKalError(ex, ex.Target);
            }

            if (Path != null || LiteralPath != null)
            {
                _file = ResolveResultsFile();
            }

            _rowReader = DataProperty is null ? null : new RecordRowReader(DataProperty, null);
            _statusWarnings = new UnknownStatusWarnings(WriteWarning);
            _unreadRows = UnreadRows.Open();
            if (!IsWhatIf())
            {
                // Fail before reading the pipeline, not after, when there is no connection; and get the token (and a
                // warm HTTP connection) on another thread while the records stream in.
                KalConnection connection = ResolvedConnection;
                CancellationToken cancellation = Cancellation;
                IKalLog log = Log;
                _connecting = Task.Run(() => connection.Client.ConnectAsync(log, cancellation), cancellation);
                _connecting.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }

        [MethodImpl(HotPath.Optimize)]
        protected override void ProcessRecord()
        {
            object?[]? records = Record;
            if (records is null)
            {
                return;
            }

            ResultsPayloadBuilder builder = _builder!;
            foreach (object? item in records)
            {
                KalInputException? problem;
                try
                {
                    RecordFields fields = (_rowReader ?? RecordRowReader.RecordResults).Read(item);
                    if (fields.Status != null && !((item is PSObject wrapped ? wrapped.BaseObject : item) is KalRecordResult))
                    {
                        // New-KalRecordResult has already warned about its own results.
                        _statusWarnings!.Check(fields.Status);
                    }

                    problem = builder.Add(fields.RecordId, fields.Status, fields.Data, fields.ErrorMessage, item);
                }
                catch (RecordProblem unreadable)
                {
                    problem = builder.Reject(unreadable.ErrorId, unreadable.Message, null, item);
                }

                if (problem != null && _reportedErrors++ < MaximumRecordErrors)
                {
                    WriteError(new ErrorRecord(problem, problem.ErrorId, ErrorCategory.InvalidData, item));
                }
            }

            if (_sinceProgress.ElapsedMilliseconds >= 1000)
            {
                _sinceProgress.Restart();
                _progressShown = true;
                WriteProgress(new ProgressRecord(ProgressActivityId, Activity, builder.CanSend
                    ? $"Read {builder.RecordCount:N0} record results ({ByteSize.Format(builder.Length)})"
                    : $"Read {builder.RecordCount:N0} record results; {builder.InvalidRecordCount:N0} invalid, so nothing will be sent"));
            }
        }

        protected override void EndProcessing()
        {
            ResultsPayloadBuilder builder = _builder!;
            ResultsPayload payload;
            try
            {
                if (_file is { } file)
                {
                    ReadResultsFile(builder, file.Path, file.Encoding);
                }

                RefuseLostOrNoRecords(builder);
                payload = builder.Complete();
            }
            catch (KalInputException ex)
            {
                EndProgress();
                ThrowTerminatingError(new ErrorRecord(KalErrors.Advised(ex), ex.ErrorId, ErrorCategory.InvalidData, Target));
                return;
            }
            finally
            {
                builder.Dispose();
            }

            using (payload)
            {
                if (payload.IsSpooled)
                {
                    WriteVerbose($"The body ({ByteSize.Format(payload.Length)}) is kept in a temporary file, deleted when it has been sent.");
                }

                string action = $"Submit {Plural(payload.RecordCount, "record result")} ({ByteSize.Format(payload.Length)}) with status '{payload.Status}'";
                if (!ShouldProcess(Target, action))
                {
                    EndProgress();
                    return;
                }

                KalConnection connection = ResolvedConnection;
                long total = payload.Length;
                void ReportSent(long sent) => PostProgress(new ProgressRecord(ProgressActivityId, Activity, $"Sending {ByteSize.Format(sent)} of {ByteSize.Format(total)}")
                {
                    PercentComplete = total == 0 ? 100 : (int)(sent * 100 / total),
                });
                try
                {
                    Run(async cancellation =>
                    {
                        if (_connecting != null)
                        {
                            await _connecting.ConfigureAwait(false);
                        }

                        await connection.Client.SubmitResultsAsync(_registration!, payload, ReportSent, Log, cancellation).ConfigureAwait(false);
                    });
                }
                catch (Exception ex) when (IsKalFailure(ex))
                {
                    EndProgress();
                    ThrowKalError(ex, Target, "KalRegistrationNotFound");
                }

                EndProgress();
                WriteVerbose($"Submitted {Plural(payload.RecordCount, "record result")} ({ByteSize.Format(payload.Length)}) with status '{payload.Status}' for {Target}.");
                if (PassThru)
                {
                    WriteObject(new KalResultSubmission(OperationId, FileId, payload.Status, payload.RecordCount, payload.Length, _elapsed.Elapsed, DateTimeOffset.Now));
                }
            }
        }

        private (string Path, System.Text.Encoding? Encoding) ResolveResultsFile()
        {
            System.Text.Encoding? encoding = null;
            if (Encoding != null)
            {
                encoding = TextEncodingCompleter.Parse(Encoding);
                if (encoding is null)
                {
                    ThrowTerminatingError(KalErrors.Create("InvalidEncoding", ErrorCategory.InvalidArgument, $"-Encoding '{Encoding}' is not a known text encoding. Use one of {string.Join(", ", TextEncodingCompleter.Names)}, or a code page number.", Encoding));
                }
            }

            string resolved;
            if (LiteralPath != null)
            {
                resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(LiteralPath);
            }
            else
            {
                System.Collections.ObjectModel.Collection<string> matches;
                try
                {
                    matches = GetResolvedProviderPathFromPSPath(Path!, out ProviderInfo _);
                }
                catch (ItemNotFoundException)
                {
                    matches = new System.Collections.ObjectModel.Collection<string>();
                }

                if (matches.Count != 1)
                {
                    ThrowTerminatingError(KalErrors.Create(
                        matches.Count == 0 ? "ResultsFileNotFound" : "ResultsFileAmbiguous",
                        matches.Count == 0 ? ErrorCategory.ObjectNotFound : ErrorCategory.InvalidArgument,
                        matches.Count == 0 ? $"No results file matches '{Path}'." : $"'{Path}' matches {matches.Count} files; give one results file per submission.",
                        Path));
                }

                resolved = matches[0];
            }

            if (!System.IO.File.Exists(resolved))
            {
                ThrowTerminatingError(KalErrors.Create("ResultsFileNotFound", ErrorCategory.ObjectNotFound, $"The results file '{resolved}' does not exist.", resolved));
            }

            if (ResultsFile.IsJsonLines(resolved))
            {
                if (MyInvocation.BoundParameters.ContainsKey(nameof(Delimiter)))
                {
                    ThrowTerminatingError(KalErrors.Create("DelimiterNotForJsonLines", ErrorCategory.InvalidArgument, $"-Delimiter is for CSV files; '{System.IO.Path.GetFileName(resolved)}' is read as JSON Lines (one record object a line) because of its extension. Leave out -Delimiter, or give a CSV file.", Delimiter));
                }

                if (encoding != null && encoding.CodePage != 65001)
                {
                    ThrowTerminatingError(KalErrors.Create("EncodingNotForJsonLines", ErrorCategory.InvalidArgument, $"-Encoding '{Encoding}' cannot be used for '{System.IO.Path.GetFileName(resolved)}': a JSON Lines file is UTF-8. Leave out -Encoding, or convert the file to UTF-8.", Encoding));
                }
            }

            return (resolved, encoding);
        }

        /// <summary>A results file: JSON Lines by its extension (.jsonl, .ndjson), else CSV.</summary>
        private void ReadResultsFile(ResultsPayloadBuilder builder, string path, System.Text.Encoding? encoding)
        {
            void Report(KalInputException problem)
            {
                if (_reportedErrors++ < MaximumRecordErrors)
                {
                    WriteError(new ErrorRecord(KalErrors.Advised(problem), problem.ErrorId, ErrorCategory.InvalidData, path));
                }
            }

            // The body is about as long as the file or longer (JSON adds the field names): a file above the spool
            // threshold goes to the temporary file from the first megabyte rather than after 16 MiB held in memory.
            builder.ExpectLength(new System.IO.FileInfo(path).Length);
            try
            {
                if (ResultsFile.IsJsonLines(path))
                {
                    ResultsJsonLinesFile.Read(path, DataProperty, builder, Report, _statusWarnings!.Check, Cancellation);
                }
                else
                {
                    PrivateAssemblies.Register();
                    ReadCsvFile(builder, path, encoding, Report);
                }
            }
            catch (OperationCanceledException) when (Stopping)
            {
                throw new PipelineStoppedException();
            }
        }

        /// <summary>Kept apart so that the CSV library is loaded only when a CSV file is read, after its resolver is registered.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private void ReadCsvFile(ResultsPayloadBuilder builder, string path, System.Text.Encoding? encoding, Action<KalInputException> report) =>
            ResultsCsvFile.Read(path, encoding, Delimiter, DataProperty, builder, report, _statusWarnings!.Check, Cancellation);

        /// <summary>
        /// Nothing goes out unless everything is valid, across the pipeline: rows that New-KalRecordResult could not
        /// turn into results refuse the submission as if they had been piped here, and piped input that produced no
        /// results at all is not sent as an empty success unless that is asked for.
        /// </summary>
        private void RefuseLostOrNoRecords(ResultsPayloadBuilder builder)
        {
            UnreadRows lost = _unreadRows!;
            _unreadRows = null;
            lost.Close();
            if (lost.Count > 0)
            {
                string rows = lost.Count == 1 ? "1 input row" : lost.Count.ToString("N0", CultureInfo.InvariantCulture) + " input rows";
                string read = builder.RecordCount == 1 ? "1 record result" : builder.RecordCount.ToString("N0", CultureInfo.InvariantCulture) + " record results";
                throw new KalInputException(
                    "RecordResultsInvalid",
                    $"{rows} could not be made into record results by New-KalRecordResult (the first: {lost.First}); nothing was sent, not even the {read} that were read. Fix the input (e.g. add the missing column) and submit all the results again; -ExpectedRecordId $event.record_ids also makes sure that every record has a result.");
            }

            bool piped = MyInvocation.ExpectingInput || MyInvocation.BoundParameters.ContainsKey(nameof(Record)) || _file != null;
            bool noneExpected = ExpectedRecordId != null && ExpectedRecordId.Length == 0;
            if (piped && builder.RecordCount == 0 && builder.Status == "success" && !AllowEmpty && !noneExpected)
            {
                throw new KalInputException(
                    "NoRecordResults",
                    "No record results came in, so the submission would be a success with no results; nothing was sent. Check what feeds Submit-KalRegistrationResult (an empty file, or every row failed before it), and pass -ExpectedRecordId $event.record_ids so that missing results are named. For a whole-file failure use -Status error -ErrorMessage '...'; to send an empty success on purpose, add -AllowEmpty.");
            }
        }

        protected override void Release()
        {
            _unreadRows?.Close();
            _unreadRows = null;
            _builder?.Dispose();
        }

        private string Target => $"file '{FileId}' of operation '{OperationId}'";

        private void EndProgress()
        {
            if (_progressShown)
            {
                CompleteProgress(new ProgressRecord(ProgressActivityId, Activity, "Done"));
            }
        }

        private bool IsWhatIf()
        {
            if (MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? bound) && bound is SwitchParameter flag)
            {
                return flag.IsPresent;
            }

            return LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));
        }

        private static string Plural(int count, string noun) =>
            count == 1 ? "1 " + noun : count.ToString("N0", CultureInfo.InvariantCulture) + " " + noun + "s";
    }
}
