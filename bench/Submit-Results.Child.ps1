<#
.SYNOPSIS
    One measured run of Submit-Results.Benchmark.ps1, in its own pwsh process. Credentials come from the
    KALEIDOSCOPE_API_* environment variables, never the command line.
#>
param(
    [Parameter(Mandatory)] [ValidateSet('Floor', 'Module', 'Direct', 'Path', 'ByHand')] [string] $Mode,
    [Parameter(Mandatory)] [string] $Csv,
    [string] $OperationId,
    [string] $FileId,
    [string] $ModulePath
)

$ErrorActionPreference = 'Stop'
switch ($Mode) {
    'Floor' {
        Import-Csv -LiteralPath $Csv | Out-Null
    }
    'Module' {
        # Connects lazily from KALEIDOSCOPE_API_CLIENT_ID/_SECRET/_URL.
        Import-Module $ModulePath
        Import-Csv -LiteralPath $Csv |
            New-KalRecordResult -DataProperty id, name, smiles |
            Submit-KalRegistrationResult -OperationId $OperationId -FileId $FileId
    }
    'Direct' {
        Import-Module $ModulePath
        Import-Csv -LiteralPath $Csv |
            Submit-KalRegistrationResult -OperationId $OperationId -FileId $FileId -DataProperty id, name, smiles
    }
    'Path' {
        Import-Module $ModulePath
        Submit-KalRegistrationResult -OperationId $OperationId -FileId $FileId -Path $Csv -DataProperty id, name, smiles
    }
    'ByHand' {
        $base = $env:KALEIDOSCOPE_API_URL.TrimEnd('/')
        $token = (Invoke-RestMethod -Method Post -Uri "$base/auth/oauth/token" -Body @{
                grant_type    = 'client_credentials'
                client_id     = $env:KALEIDOSCOPE_API_CLIENT_ID
                client_secret = $env:KALEIDOSCOPE_API_CLIENT_SECRET
            }).access_token
        $records = Import-Csv -LiteralPath $Csv | ForEach-Object {
            [ordered]@{
                record_id = $_.record_id
                status    = $_.status
                data      = [ordered]@{ id = $_.id; name = $_.name; smiles = $_.smiles }
            }
        }
        $body = [ordered]@{ status = 'success'; records = @($records) } | ConvertTo-Json -Depth 5 -Compress
        Invoke-RestMethod -Method Post -Uri "$base/operations/$OperationId/register/$FileId/results" `
            -Headers @{ 'X-Kal-Authorization' = "Bearer $token" } -ContentType 'application/json' -Body $body | Out-Null
    }
}
