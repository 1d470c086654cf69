using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Pushes an intermediate lifecycle status (e.g. validated or validation_failed) for a registration file.</summary>
    [Cmdlet(VerbsCommon.Set, "KalRegistrationStatus", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RegistrationFile))]
    public sealed class SetKalRegistrationStatusCommand : KalConnectedCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("operation_id")]
        public string OperationId { get; set; } = string.Empty;

        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        [Alias("file_id")]
        public string FileId { get; set; } = string.Empty;

        // Deliberately not bound from the pipeline: a piped registration's Status is its current state, not the new one.
        [Parameter(Mandatory = true, Position = 2)]
        [ValidateSet(RegistrationStatus.Pending, RegistrationStatus.Validated, RegistrationStatus.ValidationFailed, RegistrationStatus.Submitted, RegistrationStatus.Completed, RegistrationStatus.Failed)]
        public string Status { get; set; } = string.Empty;

        /// <summary>Why, e.g. what failed validation; sent as the status's <c>message</c>.</summary>
        [Parameter]
        [Alias("ErrorMessage")]
        public string? Message { get; set; }

        /// <summary>Emits the registration as the server holds it afterwards (one more request).</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            string status;
            try
            {
                KalIds.Validate(OperationId, nameof(OperationId));
                KalIds.Validate(FileId, nameof(FileId));
                status = RegistrationStatus.Normalize(Status);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, ex.Target);
                return;
            }

            if (!ShouldProcess($"file '{FileId}' in operation '{OperationId}'", $"Set registration status to '{status}'"))
            {
                return;
            }

            KalConnection connection = ResolvedConnection;
            try
            {
                RegistrationFile? updated = Run(async cancellation =>
                {
                    await RegistrationsApi.SetStatusAsync(connection, OperationId, FileId, status, Message, Log, cancellation).ConfigureAwait(false);
                    if (!PassThru)
                    {
                        return null;
                    }

                    List<RegistrationFile> all = await RegistrationsApi.GetRegistrationsAsync(connection, OperationId, Log, cancellation).ConfigureAwait(false);
                    return all.FirstOrDefault(r => string.Equals(r.FileId, FileId, StringComparison.Ordinal));
                });

                if (PassThru)
                {
                    if (updated is null)
                    {
                        WriteError(KalErrors.Create(
                            "KalRegistrationNotFound",
                            ErrorCategory.ObjectNotFound,
                            $"The status was set, but file '{FileId}' no longer shows among the registrations of operation '{OperationId}'.",
                            FileId));
                    }
                    else
                    {
                        WriteObject(updated);
                    }
                }
            }
            catch (Exception ex) when (IsKalFailure(ex))
            {
                WriteKalError(ex, FileId, "KalRegistrationNotFound");
            }
        }
    }
}
