using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Lists the registration files of an operation, each with its status, message and record errors.</summary>
    [Cmdlet(VerbsCommon.Get, "KalRegistration")]
    [OutputType(typeof(RegistrationFile))]
    public sealed class GetKalRegistrationCommand : KalConnectedCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("operation_id")]
        public string OperationId { get; set; } = string.Empty;

        /// <summary>Only this file's registration; an error when the file is not registered in the operation.</summary>
        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
        [Alias("file_id")]
        public string? FileId { get; set; }

        /// <summary>Only registrations in these states.</summary>
        [Parameter]
        [ValidateSet(RegistrationStatus.Pending, RegistrationStatus.Validated, RegistrationStatus.ValidationFailed, RegistrationStatus.Submitted, RegistrationStatus.Completed, RegistrationStatus.Failed)]
        public string[]? Status { get; set; }

        protected override void ProcessRecord()
        {
            RegistrationRef operation;
            try
            {
                operation = RegistrationRef.ToOperation(OperationId, FileId);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, ex.Target);
                return;
            }

            KalConnection connection = ResolvedConnection;
            List<RegistrationFile> registrations;
            try
            {
                registrations = Run(cancellation => connection.Client.GetRegistrationsAsync(operation, Log, cancellation));
            }
            catch (Exception ex) when (IsKalFailure(ex))
            {
                WriteKalError(ex, OperationId, "KalOperationNotFound");
                return;
            }

            IEnumerable<RegistrationFile> selected = registrations;
            if (operation.FileId is string fileId)
            {
                selected = selected.Where(r => string.Equals(r.FileId, fileId, StringComparison.Ordinal)).ToList();
                if (!selected.Any())
                {
                    WriteError(KalErrors.Create(
                        "KalRegistrationNotFound",
                        ErrorCategory.ObjectNotFound,
                        $"File '{fileId}' is not registered in operation '{OperationId}' ({registrations.Count} {(registrations.Count == 1 ? "registration" : "registrations")} found there).",
                        fileId));
                    return;
                }
            }

            if (Status != null)
            {
                var wanted = new HashSet<string>(Status, StringComparer.OrdinalIgnoreCase);
                selected = selected.Where(r => r.Status != null && wanted.Contains(r.Status));
            }

            foreach (RegistrationFile registration in selected)
            {
                WriteObject(registration);
            }
        }
    }
}
