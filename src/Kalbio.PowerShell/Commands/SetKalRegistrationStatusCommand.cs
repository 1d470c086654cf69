using System;
using System.Management.Automation;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Pushes an intermediate lifecycle status (e.g. validated or validation_failed) for a registration file.</summary>
    [Cmdlet(VerbsCommon.Set, "KalRegistrationStatus", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RegistrationFile))]
    public sealed class SetKalRegistrationStatusCommand : KalRegistrationCmdlet
    {
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
            RegistrationRef? registration = Registration();
            if (registration is null)
            {
                return;
            }

            string status;
            try
            {
                status = RegistrationStatus.Normalize(Status);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, ex.Target);
                return;
            }

            if (!ShouldProcess(registration.ToString(), $"Set registration status to '{status}'"))
            {
                return;
            }

            KalConnection connection = ResolvedConnection;
            try
            {
                RegistrationFile? updated = Run(async cancellation =>
                {
                    await connection.Client.SetStatusAsync(registration, status, Message, Log, cancellation).ConfigureAwait(false);
                    return PassThru ? await connection.Client.FindRegistrationAsync(registration, Log, cancellation).ConfigureAwait(false) : null;
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
