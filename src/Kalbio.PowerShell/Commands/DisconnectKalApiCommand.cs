using System.Management.Automation;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Forgets the session's current connection. Connection objects held elsewhere keep working.</summary>
    [Cmdlet(VerbsCommunications.Disconnect, "KalApi")]
    [OutputType(typeof(void))]
    public sealed class DisconnectKalApiCommand : KalCmdlet
    {
        protected override void EndProcessing()
        {
            if (CurrentConnection.Get() is { } connection)
            {
                WriteVerbose($"Forgetting the connection to {connection.BaseUri} as client '{connection.ClientId}'.");
            }

            CurrentConnection.Set(null);
        }
    }
}
