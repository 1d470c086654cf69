using System.Management.Automation;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Registers a file into an operation; the server then notifies the external processor (registration_submitted).</summary>
    [Cmdlet(VerbsLifecycle.Register, "KalFile", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RegistrationFile))]
    public sealed class RegisterKalFileCommand : KalConnectedCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("operation_id")]
        public string OperationId { get; set; } = string.Empty;

        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        [Alias("file_id")]
        public string FileId { get; set; } = string.Empty;

        protected override void ProcessRecord()
        {
            try
            {
                KalIds.Validate(OperationId, nameof(OperationId));
                KalIds.Validate(FileId, nameof(FileId));
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, ex.Target);
                return;
            }

            if (!ShouldProcess($"file '{FileId}' in operation '{OperationId}'", "Register"))
            {
                return;
            }

            KalConnection connection = ResolvedConnection;
            try
            {
                WriteObject(Run(cancellation => RegistrationsApi.RegisterAsync(connection, OperationId, FileId, Log, cancellation)));
            }
            catch (System.Exception ex) when (IsKalFailure(ex))
            {
                WriteKalError(ex, FileId, "KalFileNotFound");
            }
        }
    }
}
