#Requires -Version 7.4
#Requires -Modules Kalbio
<#
.SYNOPSIS
    Processes Kaleidoscope registration events: matches each submitted compound against a local registry and
    reports a result per record.
.DESCRIPTION
    Listens for registration_submitted webhook events. For each event it:
      1. downloads the file (Get-KalFile),
      2. checks it: a record_id and a match column in every row, and the same record ids as the event,
      3. pushes the intermediate status: validated, or validation_failed with the reason,
      4. matches each row against the registry CSV by the match column (exact, case-sensitive, as SMILES are),
      5. submits one result per record: matched, with the registry's id and name as key fields, or not_found
         with the reason,
      6. writes the registration as Kaleidoscope then holds it.
    A file that fails validation, or any step that fails, is reported to Kaleidoscope as an error result, so no
    registration is left pending. The script ends with an error (exit code 1 under pwsh -File) when any event
    failed.

    Credentials come from -Credential (the client id as user name, the client secret as password) or, without it,
    from the KALEIDOSCOPE_API_CLIENT_ID and KALEIDOSCOPE_API_CLIENT_SECRET environment variables.
.PARAMETER RegistryPath
    The compound registry: a CSV with the columns registry_id, name and the match column (smiles by default).
.PARAMETER Port
    The TCP port to listen on for webhook deliveries. Kaleidoscope's webhook URL must reach it.
.PARAMETER Path
    The URL path that takes webhook deliveries (e.g. /kaleidoscope/events); any path when omitted.
.PARAMETER RequiredHeader
    Headers every delivery must carry with exactly these values, e.g. @{ 'X-Webhook-Secret' = $secret }.
    Configure the same header on the webhook in Kaleidoscope; deliveries without it are refused (401).
.PARAMETER ListenAddress
    The local address to listen on. 127.0.0.1 (the default) takes deliveries only through a local reverse proxy
    or tunnel; 0.0.0.0 listens on every interface (then give -RequiredHeader).
.PARAMETER BaseUri
    The Kaleidoscope API address; by default KALEIDOSCOPE_API_URL, else https://api.kaleidoscope.bio.
.PARAMETER Credential
    The API client id (user name) and client secret (password).
.PARAMETER MatchColumn
    The column compared between the submitted file and the registry.
.PARAMETER Count
    Stop after this many events. 0 (the default) processes events until Ctrl+C.
.PARAMETER TimeoutSec
    Stop listening after this many seconds (with -Count, receiving fewer events is an error). 0: no limit.
.PARAMETER WorkFolder
    Where the files are downloaded (kept for audit).
.EXAMPLE
    $secret = Read-Host -AsSecureString 'Webhook secret'
    ./Invoke-RegistrationWorkflow.ps1 -RegistryPath ./registry.csv -Port 8080 -Path /kaleidoscope/events -RequiredHeader @{ 'X-Webhook-Secret' = $secret } -InformationAction Continue

    Processes events until Ctrl+C, printing each step.
.EXAMPLE
    ./Invoke-RegistrationWorkflow.ps1 -RegistryPath ./registry.csv -Port 8080 -Count 1 -TimeoutSec 600 | Format-List

    Processes one event, waiting at most ten minutes for it, and shows the registration afterwards.
.OUTPUTS
    Kalbio.PowerShell.Model.RegistrationFile, one per event processed.
#>
[CmdletBinding()]
[OutputType('Kalbio.PowerShell.Model.RegistrationFile')]
param(
    [Parameter(Mandatory)]
    [string] $RegistryPath,

    [ValidateRange(1, 65535)]
    [int] $Port = 8080,

    [string] $Path,

    [hashtable] $RequiredHeader,

    [ipaddress] $ListenAddress = [ipaddress]::Loopback,

    [string] $BaseUri,

    [pscredential] $Credential,

    [ValidateNotNullOrEmpty()]
    [string] $MatchColumn = 'smiles',

    [ValidateRange(0, [int]::MaxValue)]
    [int] $Count = 0,

    [ValidateRange(0, [int]::MaxValue)]
    [int] $TimeoutSec = 0,

    [string] $WorkFolder = (Join-Path ([IO.Path]::GetTempPath()) 'kalbio-registrations')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# SMILES are case-sensitive (c is aromatic, C is not), so the registry is keyed ordinally.
$registry = [Collections.Generic.Dictionary[string, psobject]]::new([StringComparer]::Ordinal)
foreach ($entry in Import-Csv -LiteralPath $RegistryPath) {
    $registry[$entry.$MatchColumn] = $entry
}
Write-Information "Loaded $($registry.Count) registry entries from $RegistryPath."

$connect = @{ ErrorAction = 'Stop' }
if ($BaseUri) { $connect.BaseUri = $BaseUri }
if ($Credential) { $connect.Credential = $Credential }
Connect-KalApi @connect

function Test-RegistrationFile {
    # Returns why the rows cannot be processed, or nothing when they can.
    param([object[]] $Rows, [string[]] $ExpectedRecordIds)
    if ($Rows.Count -eq 0) { return 'the file has no rows' }
    $columns = $Rows[0].PSObject.Properties.Name
    $missing = @('record_id', $MatchColumn) | Where-Object { $_ -notin $columns }
    if ($missing) { return "the file has no $($missing -join ' or ') column" }
    $blank = @($Rows | Where-Object { -not $_.record_id -or -not $_.$MatchColumn })
    if ($blank) { return "$($blank.Count) rows lack a record_id or $MatchColumn" }
    if ($ExpectedRecordIds.Count -gt 0) {
        $difference = Compare-Object -ReferenceObject $ExpectedRecordIds -DifferenceObject @($Rows.record_id)
        if ($difference) {
            $notInFile = @($difference | Where-Object SideIndicator -EQ '<=').InputObject
            $notInEvent = @($difference | Where-Object SideIndicator -EQ '=>').InputObject
            return "the file's record ids differ from the event's (not in the file: $($notInFile.Count); not in the event: $($notInEvent.Count))"
        }
    }
}

function Invoke-RegistrationEvent {
    param([Parameter(Mandatory)] $RegistrationEvent)
    $registration = @{ OperationId = $RegistrationEvent.OperationId; FileId = $RegistrationEvent.FileId; ErrorAction = 'Stop' }

    $file = $RegistrationEvent | Get-KalFile -Destination $WorkFolder -ErrorAction Stop
    Write-Information "Downloaded $($file.Name) ($($file.Length) bytes)."
    $rows = @(Import-Csv -LiteralPath $file.FullName)

    $problem = Test-RegistrationFile -Rows $rows -ExpectedRecordIds $RegistrationEvent.RecordIds
    if ($problem) {
        Set-KalRegistrationStatus @registration -Status validation_failed -Message "Validation failed: $problem."
        Submit-KalRegistrationResult @registration -Status error -ErrorMessage "Validation failed: $problem."
        throw "File $($RegistrationEvent.FileId) failed validation: $problem."
    }
    Set-KalRegistrationStatus @registration -Status validated -Message "$($rows.Count) records checked."
    Write-Information "Validated $($rows.Count) records."

    $results = foreach ($row in $rows) {
        $match = $null
        if ($registry.TryGetValue($row.$MatchColumn, [ref] $match)) {
            New-KalRecordResult -RecordId $row.record_id -Status matched -Data ([ordered]@{ id = $match.registry_id; name = $match.name })
        } else {
            New-KalRecordResult -RecordId $row.record_id -Status not_found -ErrorMessage "No registry entry has $MatchColumn '$($row.$MatchColumn)'."
        }
    }
    $matched = @($results | Where-Object Status -EQ 'matched').Count
    $summary = "$matched of $($rows.Count) records matched the registry."
    $submit = @{ Status = 'success'; Message = $summary; KeyFieldName = 'id', 'name' }
    if ($RegistrationEvent.RecordIds.Count -gt 0) { $submit.ExpectedRecordId = $RegistrationEvent.RecordIds }
    $results | Submit-KalRegistrationResult @registration @submit
    Write-Information "Submitted $($rows.Count) results: $matched matched, $($rows.Count - $matched) not found."

    Get-KalRegistration @registration
}

$listen = @{ Port = $Port; ListenAddress = $ListenAddress; ErrorAction = 'Stop' }
if ($Path) { $listen.Path = $Path }
if ($RequiredHeader) { $listen.RequiredHeader = $RequiredHeader }
if ($Count -gt 0) { $listen.Count = $Count }
if ($TimeoutSec -gt 0) { $listen.TimeoutSec = $TimeoutSec }

$null = New-Item -ItemType Directory -Path $WorkFolder -Force
$processed = 0
$failed = 0
Write-Information "Listening for registration events on $($ListenAddress):$Port$Path."
Receive-KalWebhookEvent @listen | ForEach-Object {
    $processed++
    $registrationEvent = $_
    Write-Information "Event $($registrationEvent.EventType): file $($registrationEvent.FileName) ($($registrationEvent.FileId)) in operation $($registrationEvent.OperationId), $($registrationEvent.RecordIds.Count) records."
    try {
        Invoke-RegistrationEvent -RegistrationEvent $registrationEvent
    } catch {
        $failed++
        Write-Error -ErrorRecord $_ -ErrorAction Continue
        # Leave no registration pending: report the failure unless results were already accepted.
        $state = Get-KalRegistration -OperationId $registrationEvent.OperationId -FileId $registrationEvent.FileId -ErrorAction SilentlyContinue
        if ($state -and $state.Status -notin 'completed', 'failed') {
            Submit-KalRegistrationResult -OperationId $registrationEvent.OperationId -FileId $registrationEvent.FileId -Status error `
                -ErrorMessage "Processing failed: $($_.Exception.Message)" -ErrorAction SilentlyContinue
        }
    }
}

if ($failed -gt 0) {
    throw "$failed of $processed registration events failed; see the errors above."
}
Write-Information "Done: $processed registration $(if ($processed -eq 1) { 'event' } else { 'events' }) processed."
