using System.Management.Automation;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Registers a file into an operation; the server then notifies the external processor (registration_submitted).</summary>
    [Cmdlet(VerbsLifecycle.Register, "KalFile", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RegistrationFile))]
    public sealed class RegisterKalFileCommand : KalRegistrationCmdlet
    {
        protected override void ProcessRecord()
        {
            RegistrationRef? registration = Registration();
            if (registration is null || !ShouldProcess(registration.ToString(), "Register"))
            {
                return;
            }

            KalConnection connection = ResolvedConnection;
            try
            {
                WriteObject(Run(cancellation => connection.Client.RegisterFileAsync(registration, Log, cancellation)));
            }
            catch (System.Exception ex) when (IsKalFailure(ex))
            {
                WriteKalError(ex, FileId, "KalFileNotFound");
            }
        }
    }
}
