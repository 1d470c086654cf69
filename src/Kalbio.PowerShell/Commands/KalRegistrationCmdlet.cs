using System.Management.Automation;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// A cmdlet about one registration file: <c>-OperationId</c> and <c>-FileId</c>, also bound by property name from
    /// piped events and registrations; the core checks the ids before anything is sent.
    /// </summary>
    public abstract class KalRegistrationCmdlet : KalConnectedCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("operation_id")]
        public string OperationId { get; set; } = string.Empty;

        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        [Alias("file_id")]
        public string FileId { get; set; } = string.Empty;

        /// <summary>The registration this pipeline item names; null, with the error written, when an id is not valid.</summary>
        internal RegistrationRef? Registration()
        {
            try
            {
                return RegistrationRef.To(OperationId, FileId);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, ex.Target);
                return null;
            }
        }
    }
}
