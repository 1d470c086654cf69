using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Net;
using System.Security;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Connects to the Kaleidoscope API and makes the connection the session's current one.</summary>
    [Cmdlet(VerbsCommunications.Connect, "KalApi", DefaultParameterSetName = EnvironmentSet)]
    [OutputType(typeof(KalConnection))]
    public sealed class ConnectKalApiCommand : KalCmdlet
    {
        private const string EnvironmentSet = "Environment";
        private const string SecretSet = "ClientSecret";
        private const string CredentialSet = "Credential";

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = SecretSet)]
        [ValidateNotNullOrEmpty]
        public string ClientId { get; set; } = string.Empty;

        [Parameter(Mandatory = true, Position = 1, ParameterSetName = SecretSet)]
        [ValidateNotNull]
        public SecureString? ClientSecret { get; set; }

        /// <summary>The client id as the user name and the client secret as the password.</summary>
        [Parameter(Mandatory = true, ParameterSetName = CredentialSet)]
        [Credential]
        [ValidateNotNull]
        public PSCredential? Credential { get; set; }

        [Parameter]
        public string? BaseUri { get; set; }

        [Parameter]
        [ValidateNotNull]
        public IDictionary? AdditionalHeader { get; set; }

        [Parameter]
        public SwitchParameter SkipCertificateCheck { get; set; }

        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = (int)KalConnectionOptions.DefaultTimeout.TotalSeconds;

        [Parameter]
        [ValidateRange(0, 20)]
        public int MaximumRetryCount { get; set; } = KalConnectionOptions.DefaultMaximumRetryCount;

        [Parameter]
        [ValidateRange(0, 600)]
        public int RetryIntervalSec { get; set; } = (int)KalConnectionOptions.DefaultRetryInterval.TotalSeconds;

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void EndProcessing()
        {
            KalConnection connection;
            try
            {
                connection = new KalConnection(BuildOptions());
            }
            catch (KalInputException ex)
            {
                string? advice = ex.ErrorId == "IncompleteEnvironmentCredentials" ? "Set both, or pass -ClientId and -ClientSecret." : null;
                ThrowTerminatingError(KalErrors.ToErrorRecord(ex, ex.Target, advice: advice));
                return;
            }

            foreach (SecurityRisk risk in connection.Client.Options.SecurityRisks())
            {
                WriteWarning(KalErrors.WarningFor(risk, connection.BaseUri));
            }

            try
            {
                Run(cancellation => connection.ConnectAsync(Log, cancellation));
            }
            catch (Exception ex) when (IsKalFailure(ex))
            {
                connection.Dispose();
                ThrowKalError(ex, connection.BaseUri);
            }
            catch
            {
                connection.Dispose();
                throw;
            }

            CurrentConnection.Set(connection);
            WriteVerbose($"Connected to {connection.BaseUri} as client '{connection.ClientId}'; the token expires at {connection.TokenExpiresAt:yyyy-MM-dd HH:mm:ss zzz}.");
            if (PassThru)
            {
                WriteObject(connection);
            }
        }

        private KalConnectionOptions BuildOptions()
        {
            KalConnectionOptions options;
            if (ParameterSetName == EnvironmentSet)
            {
                options = KalConnectionOptions.FromEnvironment()
                    ?? throw new KalInputException(
                        "MissingCredentials",
                        $"No credentials: give -ClientId and -ClientSecret, or -Credential, or set {KalConnectionOptions.ClientIdVariable} and {KalConnectionOptions.ClientSecretVariable}.",
                        "ClientId");
            }
            else
            {
                options = new KalConnectionOptions
                {
                    ClientId = ParameterSetName == CredentialSet ? Credential!.UserName : ClientId,
                    ClientSecret = new NetworkCredential(string.Empty, ParameterSetName == CredentialSet ? Credential!.Password : ClientSecret).Password,
                };
                if (BaseUri is null)
                {
                    options.UseBaseUriFromEnvironment();
                }
            }

            if (BaseUri != null)
            {
                options.BaseUri = KalConnectionOptions.ParseBaseUri(BaseUri);
                options.BaseUriSource = BaseUriSource.Parameter;
                options.BaseUriGivenAs = "-" + nameof(BaseUri);
            }

            options.SkipCertificateCheck = SkipCertificateCheck.IsPresent;
            options.Timeout = TimeSpan.FromSeconds(TimeoutSec);
            options.MaximumRetryCount = MaximumRetryCount;
            options.RetryInterval = TimeSpan.FromSeconds(RetryIntervalSec);
            options.UserAgent = UserAgent.Value;
            if (AdditionalHeader != null)
            {
                foreach (DictionaryEntry entry in AdditionalHeader)
                {
                    object? value = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
                    string text = value is SecureString secure ? new NetworkCredential(string.Empty, secure).Password : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
                    options.AdditionalHeaders.Add(new KeyValuePair<string, string>(Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, text));
                }
            }

            return options;
        }
    }
}
