@{
    RootModule           = 'Kalbio.PowerShell.dll'
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
            ReleaseNotes = 'Initial release.'
        }
    }
}
