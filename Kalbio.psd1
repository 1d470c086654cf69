@{
    RootModule           = 'Kalbio.PowerShell.dll'
    # The core is loaded with the module, so its published types ([Kalbio.PowerShell.Model.*], the exceptions) resolve
    # in a script before any cmdlet has run, as they did when they lived in Kalbio.PowerShell.dll.
    RequiredAssemblies   = @('Kalbio.Core.dll')
    ModuleVersion        = '0.1.0'
    CompatiblePSEditions = @('Core')
    GUID                 = '8009e640-f501-435e-8418-6577ea0c14a8'
    Author               = 'Kalbio.PowerShell contributors'
    CompanyName          = 'Kalbio.PowerShell contributors'
    Copyright            = '(c) Kalbio.PowerShell contributors.'
    Description          = 'Automates the Kaleidoscope file-registration workflow: connect with client credentials, download registration files, and submit per-record results from the pipeline.'
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('Kalbio.format.ps1xml')
    CmdletsToExport      = @(
        'Connect-KalApi'
        'ConvertFrom-KalWebhookEvent'
        'Disconnect-KalApi'
        'Get-KalConnection'
        'Get-KalFile'
        'Get-KalRegistration'
        'Invoke-KalApiRequest'
        'New-KalRecordResult'
        'Receive-KalWebhookEvent'
        'Register-KalFile'
        'Set-KalRegistrationStatus'
        'Submit-KalRegistrationResult'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Kaleidoscope', 'Kalbio', 'LabData', 'Registration', 'API', 'PSEdition_Core', 'Linux', 'Windows', 'MacOS')
            # LicenseUri and ProjectUri are left out until the project's public home and licence are decided.
            ReleaseNotes = @'
0.1.0: first release.
- Connect-KalApi / Disconnect-KalApi / Get-KalConnection: client-credentials auth, runspace-scoped current connection, -Connection on every API cmdlet, environment-variable connection, rotating refresh tokens renewed once per expiry.
- Get-KalFile: atomic, streaming, resumable-by-retry downloads from ids, webhook events or file_url.
- New-KalRecordResult / Submit-KalRegistrationResult: results from the pipeline, validated, streamed into one POST.
- Register-KalFile / Get-KalRegistration / Set-KalRegistrationStatus: the registration lifecycle.
- ConvertFrom-KalWebhookEvent / Receive-KalWebhookEvent: registration_submitted events, parsed or received.
- Invoke-KalApiRequest: any other endpoint with the module's auth, retries, errors and redaction.
'@
        }
    }
}
