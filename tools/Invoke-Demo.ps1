#Requires -Version 7.4
<#
.SYNOPSIS
    Runs the end-to-end demo: the sandbox API plays Kaleidoscope, examples/Invoke-RegistrationWorkflow.ps1 plays
    the customer's processor.
.DESCRIPTION
    Starts the sandbox with the demo compound file and a webhook pointing at a free local port, starts the example
    workflow listening there (in a child pwsh that imports the built module), registers the file through the API
    as a Kaleidoscope user would (which makes the sandbox deliver registration_submitted), waits for the workflow to
    finish, then checks what the sandbox holds. Throws when any step fails; always stops what it started.
    build.ps1 -Task Demo builds first and then runs this.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SandboxPath,
    [ValidateRange(5, 600)] [int] $TimeoutSec = 50
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$root = Split-Path -Parent $PSScriptRoot
$example = Join-Path $root 'examples/Invoke-RegistrationWorkflow.ps1'
$registryPath = Join-Path $root 'examples/registry.csv'
$operationId = 'a1d5e7f0-3c2b-4e8d-9f6a-7b5c4d3e2f10'
$fileId = '3f6c2a9e-5b1d-4c8e-9a7f-1e2d3c4b5a60'
$clientId = 'sandbox-client'
$clientSecret = 'sandbox-secret'
$webhookHeader = 'X-Webhook-Secret'
$webhookSecret = [Convert]::ToHexString([Security.Cryptography.RandomNumberGenerator]::GetBytes(16))
$deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)

function Get-FreePort {
    $probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $probe.Start()
    try { $probe.LocalEndpoint.Port } finally { $probe.Stop() }
}

# A connection whose own port is $Port does not count: on Linux a connect to a port nobody listens on can meet
# itself when the kernel happens to pick that same port as the source.
function Test-Listening([int] $Port) {
    $client = [Net.Sockets.TcpClient]::new()
    try { $client.ConnectAsync([Net.IPAddress]::Loopback, $Port).Wait(500) -and $client.Connected -and $client.Client.LocalEndPoint.Port -ne $Port }
    catch { $false }
    finally { $client.Dispose() }
}

function Step([string] $Text) { Write-Host "==> $Text" -ForegroundColor Cyan }

# The path of the pwsh running this script, as a command line ('dotnet pwsh.dll' for the local tool).
# @() around the whole if: an if statement's output is unrolled, so a one-element array would become a string.
$pwsh = @(if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
    [Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll')
} else { [Environment]::ProcessPath })

$sandbox = $null
$workflow = $null
$workFolder = Join-Path ([IO.Path]::GetTempPath()) "kalbio-demo-$PID"
try {
    $listenPort = Get-FreePort
    $webhookPath = '/kaleidoscope/events'
    $webhookUrl = "http://127.0.0.1:$listenPort$webhookPath"

    Step "Starting the sandbox API with the demo file and a webhook to $webhookUrl"
    $start = [Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($argument in $SandboxPath, '--port', '0', '--seed-demo', '--webhook-url', $webhookUrl, '--exit-on-stdin-close') {
        $start.ArgumentList.Add($argument)
    }
    $start.RedirectStandardInput = $true
    $start.RedirectStandardOutput = $true
    $start.UseShellExecute = $false
    $sandbox = [Diagnostics.Process]::Start($start)
    $baseUri = $null
    while (-not $baseUri -and [DateTime]::UtcNow -lt $deadline) {
        $line = $sandbox.StandardOutput.ReadLine()
        if ($null -eq $line) { throw "The sandbox exited (code $($sandbox.ExitCode)) before it was listening." }
        if ($line -match '^KALBIO_SANDBOX_URL=(.+)$') { $baseUri = $Matches[1] }
    }
    if (-not $baseUri) { throw 'The sandbox did not start in time.' }
    # Later sandbox output is not needed, but must be read so the process never blocks on a full pipe.
    $null = $sandbox.StandardOutput.ReadToEndAsync()
    Invoke-RestMethod -Method Post -Uri "$baseUri/_sandbox/config" -ContentType 'application/json' `
        -Body (@{ webhook_headers = @{ $webhookHeader = $webhookSecret } } | ConvertTo-Json -Compress) | Out-Null
    Write-Host "    sandbox at $baseUri; its webhook deliveries carry the header $webhookHeader"

    Step "Starting examples/Invoke-RegistrationWorkflow.ps1, listening on 127.0.0.1:$listenPort$webhookPath"
    $quote = { param($text) "'" + ($text -replace "'", "''") + "'" }
    $command = @"
`$ErrorActionPreference = 'Stop'
`$parameters = @{
    RegistryPath   = $(& $quote $registryPath)
    BaseUri        = $(& $quote $baseUri)
    Port           = $listenPort
    Path           = $(& $quote $webhookPath)
    RequiredHeader = @{ $(& $quote $webhookHeader) = `$env:KALBIO_DEMO_WEBHOOK_SECRET }
    Count          = 1
    TimeoutSec     = $TimeoutSec
    WorkFolder     = $(& $quote $workFolder)
}
`$registrations = & $(& $quote $example) @parameters -InformationAction Continue
foreach (`$registration in `$registrations) {
    Write-Host ''
    Write-Host 'The registration as the sandbox now holds it:'
    `$registration | Format-List | Out-Host
    Write-Host "Record errors (`$(`$registration.RecordErrors.Count)):"
    `$registration.RecordErrors | Format-Table SourceRecordId, Status, ErrorMessage -AutoSize -Wrap | Out-Host
}
"@
    $start = [Diagnostics.ProcessStartInfo]::new($pwsh[0])
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($command))
    foreach ($argument in @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-OutputFormat', 'Text', '-EncodedCommand', $encoded)) {
        $start.ArgumentList.Add($argument)
    }
    $start.UseShellExecute = $false
    # The workflow finds the module the production way (Import-Module Kalbio) and reads the credentials from the
    # environment, as the README describes.
    $start.Environment['PSModulePath'] = (Split-Path -Parent (Resolve-Path $ModulePath).Path) + [IO.Path]::PathSeparator + $env:PSModulePath
    $start.Environment['KALEIDOSCOPE_API_CLIENT_ID'] = $clientId
    $start.Environment['KALEIDOSCOPE_API_CLIENT_SECRET'] = $clientSecret
    $start.Environment['KALBIO_DEMO_WEBHOOK_SECRET'] = $webhookSecret
    $start.Environment.Remove('KALEIDOSCOPE_API_URL') | Out-Null
    if ([Console]::IsOutputRedirected) { $start.Environment['NO_COLOR'] = '1' }
    $workflow = [Diagnostics.Process]::Start($start)

    while (-not (Test-Listening $listenPort)) {
        if ($workflow.HasExited) { throw "The workflow exited (code $($workflow.ExitCode)) before it was listening." }
        if ([DateTime]::UtcNow -gt $deadline) { throw "The workflow was not listening on port $listenPort in time." }
        Start-Sleep -Milliseconds 100
    }

    Step "Registering compounds-2026-11.csv in operation $operationId through the API, as a Kaleidoscope user would"
    $token = Invoke-RestMethod -Method Post -Uri "$baseUri/auth/oauth/token" -ContentType 'application/x-www-form-urlencoded' `
        -Body @{ grant_type = 'client_credentials'; client_id = $clientId; client_secret = $clientSecret }
    $registered = Invoke-RestMethod -Method Post -Uri "$baseUri/operations/$operationId/register/$fileId" -ContentType 'application/json' `
        -Headers @{ 'X-Kal-Authorization' = "Bearer $($token.access_token)" } -Body '{}'
    Write-Host "    registration $($registered.id) is $($registered.status); the sandbox now delivers registration_submitted"

    $remaining = [Math]::Max(1, ($deadline - [DateTime]::UtcNow).TotalMilliseconds)
    if (-not $workflow.WaitForExit([int] $remaining)) { throw "The workflow did not finish within $TimeoutSec s." }
    $workflow.WaitForExit()
    if ($workflow.ExitCode -ne 0) { throw "The workflow failed (exit code $($workflow.ExitCode)); see its errors above." }

    Step 'Checking what the sandbox holds'
    $registration = @(Invoke-RestMethod -Uri "$baseUri/_sandbox/registrations") | ForEach-Object { $_ } |
        Where-Object { $_.operation_id -eq $operationId -and $_.file_id -eq $fileId }
    $submissions = @(Invoke-RestMethod -Uri "$baseUri/_sandbox/submissions" | ForEach-Object { $_ })
    $deliveries = @(Invoke-RestMethod -Uri "$baseUri/_sandbox/webhooks" | ForEach-Object { $_ })
    $problems = @(
        if (@($deliveries | Where-Object status -EQ 202).Count -ne 1) { "expected one webhook delivery answered 202, saw $(@($deliveries).Count)" }
        if (-not $registration -or $registration.status -ne 'completed') { "expected the registration to be completed, it is $(if ($registration) { $registration.status } else { 'missing' })" }
        if ($submissions.Count -ne 1 -or $submissions[0].record_count -ne 12) { "expected one submission of 12 records, saw $($submissions.Count)" }
        if ($registration -and @($registration.record_errors | Where-Object status -EQ 'not_found').Count -ne 4) { 'expected 4 records not found' }
    )
    if ($problems) { throw "The demo finished but the sandbox disagrees: $($problems -join '; ')." }
    Write-Host '    1 event delivered (202), 12 results submitted (8 matched, 4 not found), registration completed' -ForegroundColor Green
    Write-Host 'Demo succeeded.' -ForegroundColor Green
} finally {
    if ($workflow) {
        if (-not $workflow.HasExited) { $workflow.Kill($true) }
        $workflow.Dispose()
    }
    if ($sandbox) {
        if (-not $sandbox.HasExited) {
            $sandbox.StandardInput.Close()
            if (-not $sandbox.WaitForExit(5000)) { $sandbox.Kill($true) }
        }
        $sandbox.Dispose()
    }
    Remove-Item -LiteralPath $workFolder -Recurse -Force -ErrorAction SilentlyContinue
}
