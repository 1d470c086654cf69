using System;
using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
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
    [Cmdlet(VerbsLifecycle.Submit, "KalRegistrationResult", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(KalResultSubmission))]
    public sealed class SubmitKalRegistrationResultCommand : KalConnectedCmdlet
    {
        public const int MaximumRecordErrors = 10;
        private const int ProgressActivityId = 0x4b616c;
        private const string Activity = "Submitting registration results";

        private readonly Stopwatch _elapsed = new Stopwatch();
        private readonly Stopwatch _sinceProgress = new Stopwatch();
        private ResultsPayloadBuilder? _builder;
        private Task? _connecting;
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
        [Parameter(ValueFromPipeline = true)]
        public object?[]? Record { get; set; }

        /// <summary>The record ids the results must cover exactly, e.g. the event's record_ids.</summary>
        [Parameter]
        [AllowEmptyCollection]
        public string[]? ExpectedRecordId { get; set; }

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

            try
            {
                KalIds.Validate(OperationId, nameof(OperationId));
                KalIds.Validate(FileId, nameof(FileId));
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

            if (!IsWhatIf())
            {
                // Fail before reading the pipeline, not after, when there is no connection; and get the token (and a
                // warm HTTP connection) on another thread while the records stream in.
                KalConnection connection = ResolvedConnection;
                CancellationToken cancellation = Cancellation;
                IKalLog log = Log;
                _connecting = Task.Run(() => connection.ConnectAsync(log, cancellation), cancellation);
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
                    RecordFields fields = RecordInput.Read(item);
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
                    ? $"Read {builder.RecordCount:N0} record results ({Size(builder.Length)})"
                    : $"Read {builder.RecordCount:N0} record results; {builder.InvalidRecordCount:N0} invalid, so nothing will be sent"));
            }
        }

        protected override void EndProcessing()
        {
            ResultsPayloadBuilder builder = _builder!;
            ResultsPayload payload;
            try
            {
                payload = builder.Complete();
            }
            catch (KalInputException ex)
            {
                EndProgress();
                ThrowTerminatingError(new ErrorRecord(ex, ex.ErrorId, ErrorCategory.InvalidData, Target));
                return;
            }
            finally
            {
                builder.Dispose();
            }

            using (payload)
            {
                string action = $"Submit {Plural(payload.RecordCount, "record result")} ({Size(payload.Length)}) with status '{payload.Status}'";
                if (!ShouldProcess(Target, action))
                {
                    EndProgress();
                    return;
                }

                KalConnection connection = ResolvedConnection;
                long total = payload.Length;
                void ReportSent(long sent) => PostProgress(new ProgressRecord(ProgressActivityId, Activity, $"Sending {Size(sent)} of {Size(total)}")
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

                        await RegistrationApi.SubmitResultsAsync(connection, OperationId, FileId, payload, ReportSent, Log, cancellation).ConfigureAwait(false);
                    });
                }
                catch (Exception ex) when (IsKalFailure(ex))
                {
                    EndProgress();
                    ThrowKalError(ex, Target, "KalRegistrationNotFound");
                }

                EndProgress();
                WriteVerbose($"Submitted {Plural(payload.RecordCount, "record result")} ({Size(payload.Length)}) with status '{payload.Status}' for {Target}.");
                if (PassThru)
                {
                    WriteObject(new KalResultSubmission(OperationId, FileId, payload.Status, payload.RecordCount, payload.Length, _elapsed.Elapsed, DateTimeOffset.Now));
                }
            }
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

        internal static string Size(long bytes)
        {
            if (bytes < 1024)
            {
                return bytes.ToString(CultureInfo.InvariantCulture) + " bytes";
            }

            return bytes < 1024 * 1024
                ? (bytes / 1024.0).ToString("0.#", CultureInfo.InvariantCulture) + " KB"
                : (bytes / (1024.0 * 1024)).ToString("0.#", CultureInfo.InvariantCulture) + " MB";
        }
    }
}
