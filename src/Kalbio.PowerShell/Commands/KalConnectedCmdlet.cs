using System.Management.Automation;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// A cmdlet that calls the API: <c>-Connection</c> when given, else the runspace's current connection, else one
    /// made from the KALEIDOSCOPE_API_* environment variables, else one clear "not connected" error.
    /// </summary>
    public abstract class KalConnectedCmdlet : KalCmdlet
    {
        private KalConnection? _resolved;

        /// <summary>The connection to use instead of the session's current one (from <c>Connect-KalApi -PassThru</c>).</summary>
        [Parameter]
        [ValidateNotNull]
        public KalConnection? Connection { get; set; }

        /// <summary>The connection for this call; resolved once per pipeline, terminating the pipeline when there is none.</summary>
        protected KalConnection ResolvedConnection => _resolved ??= ResolveConnection();

        private KalConnection ResolveConnection()
        {
            if (Connection != null)
            {
                return Connection;
            }

            KalConnection? current = CurrentConnection.Get();
            if (current != null)
            {
                return current;
            }

            KalConnectionOptions? fromEnvironment;
            try
            {
                fromEnvironment = KalConnectionOptions.FromEnvironment();
                if (fromEnvironment is null)
                {
                    ThrowTerminatingError(KalErrors.Create(
                        "KalNotConnected",
                        ErrorCategory.AuthenticationError,
                        $"Not connected to the Kaleidoscope API. Run Connect-KalApi, or set {KalConnectionOptions.ClientIdVariable} and {KalConnectionOptions.ClientSecretVariable} (and {KalConnectionOptions.BaseUriVariable} for another address).",
                        null));
                }

                fromEnvironment!.UserAgent = UserAgent.Value;
                var connection = new KalConnection(fromEnvironment);
                foreach (SecurityRisk risk in fromEnvironment.SecurityRisks())
                {
                    WriteWarning(KalErrors.WarningFor(risk, connection.BaseUri));
                }

                WriteVerbose($"Connecting to {connection.BaseUri} as client '{connection.ClientId}' from the environment variables.");
                CurrentConnection.Set(connection);
                return connection;
            }
            catch (KalInputException ex)
            {
                ThrowKalError(ex, null);
                throw;
            }
        }
    }
}
