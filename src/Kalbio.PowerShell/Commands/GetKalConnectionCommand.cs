using System.Management.Automation;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Shows the session's current connection: address, client id and token expiry, never a secret.</summary>
    [Cmdlet(VerbsCommon.Get, "KalConnection")]
    [OutputType(typeof(KalConnection))]
    public sealed class GetKalConnectionCommand : KalCmdlet
    {
        protected override void EndProcessing()
        {
            if (CurrentConnection.Get() is { } connection)
            {
                WriteObject(connection);
            }
        }
    }
}
