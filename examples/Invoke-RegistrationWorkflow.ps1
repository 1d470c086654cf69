<#
.SYNOPSIS
    Processes Kaleidoscope registrations: matches each submitted compound against a local registry and reports a
    result per record.
.DESCRIPTION
    Works in one of two ways:
      - Webhook (the default): listens for registration_submitted webhook events and processes each one's
        registration as it arrives. Kaleidoscope must be able to reach the listening port.
      - Sweep (-PollOperationId): every -PollIntervalSec seconds, lists the unfinished registrations of the given
        operations (Get-KalRegistration -Status pending, validated, validation_failed) and processes each. Needs no
        inbound port, and picks up registrations whose event was missed. -Once makes one sweep and exits (for a
        scheduled task or cron).
    Both ways process a registration with the same steps. For each it:
      1. takes the registration's lock and checks it is still unfinished: pending, or validated or
         validation_failed (see below); submitted, completed and failed are final and skipped,
      2. downloads the file (Get-KalFile),
      3. checks it: a record_id and a match column in every row, and, for an event, the same record ids as the
         event (a sweep takes the record ids from the file itself),
      4. pushes the intermediate status: validated, or validation_failed with the reason,
      5. matches each row against the registry CSV by the match column (exact, case-sensitive, as SMILES are),
      6. submits one result per record: matched, with the registry's id and name as key fields, or not_found
         with the reason,
      7. writes the registration as Kaleidoscope then holds it.
    A file that fails validation, or any step that fails, is reported to Kaleidoscope as an error result, so no
    registration is left pending, and the next registration is processed. The script ends with an error (exit code
    1 under pwsh) when any registration failed.

    In webhook mode an event is acknowledged (answered 202, or removed from the -SpoolPath spool) only when its
    registration is final (submitted, completed or failed, including by this processor's own error result), or
    when another live processor holds its lock (that processor's own event is kept until it finishes). When the
    registration's state cannot be read, or processing failed and even its error result could not be sent, the
    registration is tried again in place after 2, 4 and 8 seconds (Ctrl+C stops the wait); if it is still not
    finished, the processor throws: the event is not acknowledged (answered 503 without a spool; kept in the spool
    with one) and the script exits 1. This is a crash-only design: run it under a service manager that restarts
    it (systemd Restart=always), and after the restart the spool gives that event first, or the sender delivers it
    again. An event that keeps failing keeps the processor failing, visibly, until the cause is fixed; the sweep
    (-PollOperationId) picks the registration up as well. A delivery that is not an event is answered 400 and
    reported as an error, and the processor goes on.

    One processor never processes a registration twice at once: processors on one machine that share a
    -WorkFolder hold a lock file per registration (in its .locks folder) while they process it, skip a registration
    whose lock another holds, and check the status again once they hold the lock. The operating system releases
    the lock when a processor ends, even when it is killed.

    No registration is left stuck by a crash. The processor pushes validated (or validation_failed) before it
    submits the results, so one killed in between leaves the registration validated. Such a registration, with no
    live processor holding its lock, is processed again from the download, by the next sweep or when its event
    comes again (redelivered by the sender, or emitted again from -SpoolPath): the status is pushed again, which is
    harmless, and the results are submitted once, at the end. A processor killed after its results were accepted
    leaves the registration completed or failed, which is never processed again.

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
    or tunnel; 0.0.0.0 listens on every interface (then give -RequiredHeader and -Certificate).
.PARAMETER SpoolPath
    A folder where each event is written durably before it is answered 202 (Receive-KalWebhookEvent -SpoolPath).
    An event whose processing a crash cut short is processed first on the next start; a repeated event id is
    processed once. Without it an event is answered only once processed, and a crash leaves it to the sender to
    deliver again. There is no default: give a folder that survives a reboot (not the temporary folder), and one
    per listener, since only one listener at a time may use a spool.
.PARAMETER Certificate
    Serve HTTPS with this certificate (an X509Certificate2 with its private key, e.g. from Get-PfxCertificate);
    plain HTTP without it. Not needed behind a reverse proxy that terminates TLS.
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
.PARAMETER PollOperationId
    Sweep these operations for unfinished registrations (pending, validated, validation_failed) instead of
    listening for events.
.PARAMETER PollIntervalSec
    Seconds between the end of one sweep and the start of the next (60 by default).
.PARAMETER Once
    Make one sweep and exit: for a scheduled task, a cron job or a systemd timer.
.PARAMETER WorkFolder
    Where the files are downloaded (kept for audit), and where the locks are held (WorkFolder/.locks). Processors
    that must never process the same registration at once share this folder.
.EXAMPLE
    $secret = Read-Host -AsSecureString 'Webhook secret'
    ./Invoke-RegistrationWorkflow.ps1 -RegistryPath ./registry.csv -Port 8080 -Path /kaleidoscope/events -RequiredHeader @{ 'X-Webhook-Secret' = $secret } -InformationAction Continue

    Processes events until Ctrl+C, printing each step.
.EXAMPLE
    ./Invoke-RegistrationWorkflow.ps1 -RegistryPath ./registry.csv -Port 8080 -Count 1 -TimeoutSec 600 | Format-List

    Processes one event, waiting at most ten minutes for it, and shows the registration afterwards.
.EXAMPLE
    $certificate = Get-PfxCertificate -FilePath /etc/kalbio/listener.pfx
    ./Invoke-RegistrationWorkflow.ps1 -RegistryPath ./registry.csv -Port 8443 -ListenAddress 0.0.0.0 -Certificate $certificate -SpoolPath /var/lib/kalbio/spool -RequiredHeader @{ 'X-Webhook-Secret' = $secret }

    Serves HTTPS on every interface and spools each event before answering it 202; an event stays in the spool
    until its registration is final, so one cut short by a crash, or not finished after the retries (the processor
    then exits 1), is processed first when the processor starts again.
.EXAMPLE
    ./Invoke-RegistrationWorkflow.ps1 -RegistryPath ./registry.csv -PollOperationId $operationId -Once -InformationAction Continue

    Processes every unfinished registration of the operation once, with no inbound port, and exits; exit code 1
    when any of them failed.
.EXAMPLE
    ./Invoke-RegistrationWorkflow.ps1 -RegistryPath ./registry.csv -PollOperationId $op1, $op2 -PollIntervalSec 300

    Sweeps both operations every five minutes until Ctrl+C.
.OUTPUTS
    Kalbio.PowerShell.Model.RegistrationFile, one per registration processed.
#>
#Requires -Version 7.4
#Requires -Modules Kalbio

[CmdletBinding(DefaultParameterSetName = 'Webhook')]
[OutputType('Kalbio.PowerShell.Model.RegistrationFile')]
param(
    [Parameter(Mandatory)]
    [string] $RegistryPath,

    [Parameter(ParameterSetName = 'Webhook')]
    [ValidateRange(1, 65535)]
    [int] $Port = 8080,

    [Parameter(ParameterSetName = 'Webhook')]
    [string] $Path,

    [Parameter(ParameterSetName = 'Webhook')]
    [hashtable] $RequiredHeader,

    [Parameter(ParameterSetName = 'Webhook')]
    [ipaddress] $ListenAddress = [ipaddress]::Loopback,

    [Parameter(ParameterSetName = 'Webhook')]
    [ValidateNotNullOrEmpty()]
    [string] $SpoolPath,

    [Parameter(ParameterSetName = 'Webhook')]
    [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,

    [Parameter(ParameterSetName = 'Sweep', Mandatory)]
    [ValidateNotNullOrEmpty()]
    [string[]] $PollOperationId,

    [Parameter(ParameterSetName = 'Sweep')]
    [ValidateRange(1, 86400)]
    [int] $PollIntervalSec = 60,

    [Parameter(ParameterSetName = 'Sweep')]
    [switch] $Once,

    [string] $BaseUri,

    [pscredential] $Credential,

    [ValidateNotNullOrEmpty()]
    [string] $MatchColumn = 'smiles',

    [Parameter(ParameterSetName = 'Webhook')]
    [ValidateRange(0, [int]::MaxValue)]
    [int] $Count = 0,

    [Parameter(ParameterSetName = 'Webhook')]
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

function Invoke-RegistrationSteps {
    # Item is a webhook event or a registration file: Get-KalFile binds its FileId (and an event's FileName,
    # ActivityId and file_url). RecordIds are the event's; none for a registration file.
    param([Parameter(Mandatory)] $Item, [string[]] $RecordIds = @())
    $registration = @{ OperationId = $Item.OperationId; FileId = $Item.FileId; ErrorAction = 'Stop' }

    $file = $Item | Get-KalFile -Destination $WorkFolder -ErrorAction Stop
    Write-Information "Downloaded $($file.Name) ($($file.Length) bytes)."
    $rows = @(Import-Csv -LiteralPath $file.FullName)

    $problem = Test-RegistrationFile -Rows $rows -ExpectedRecordIds $RecordIds
    if ($problem) {
        Set-KalRegistrationStatus @registration -Status validation_failed -Message "Validation failed: $problem."
        Submit-KalRegistrationResult @registration -Status error -ErrorMessage "Validation failed: $problem."
        throw "File $($Item.FileId) failed validation: $problem."
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
    if ($RecordIds.Count -gt 0) { $submit.ExpectedRecordId = $RecordIds }
    $results | Submit-KalRegistrationResult @registration @submit
    Write-Information "Submitted $($rows.Count) results: $matched matched, $($rows.Count - $matched) not found."

    Get-KalRegistration @registration
}

function Use-LockFolderGate {
    # Runs Action while holding the lock folder's gate. Lock files are created and deleted only under the gate, so
    # no processor can be left holding a lock on a file another has just deleted (and so not lock it at all).
    param([Parameter(Mandatory)] [scriptblock] $Action)
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ($true) {
        try {
            $gate = [IO.FileStream]::new((Join-Path $lockFolder '.gate'), [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]::None)
            break
        } catch [IO.IOException] {
            if ([DateTime]::UtcNow -gt $deadline) { throw "The lock folder $lockFolder stayed busy for 30 s: $($_.Exception.Message)" }
            Start-Sleep -Milliseconds 10
        }
    }
    try { & $Action } finally { $gate.Dispose() }
}

function Enter-RegistrationLock {
    # Returns the registration's lock, or nothing when another processor holds it. The lock is an open, unshared
    # file (an flock on Linux and macOS, a share lock on Windows): the OS releases it when the process ends, even
    # when it is killed. A lock file left by a killed processor is simply taken over.
    param([string] $OperationId, [string] $FileId)
    $hash = [Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes("$OperationId`n$FileId"))
    $lockPath = Join-Path $lockFolder ([Convert]::ToHexString($hash).Substring(0, 32) + '.lock')
    Use-LockFolderGate {
        try {
            [IO.FileStream]::new($lockPath, [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]::None, 1, [IO.FileOptions]::DeleteOnClose)
        } catch [IO.IOException] {
            if ($_.Exception.GetType() -ne [IO.IOException]) { throw }
            Write-Information "Skipped file $FileId in operation ${OperationId}: another processor holds its lock ($($_.Exception.Message))."
        }
    }
}

function Invoke-Registration {
    # The one way a registration is processed, from an event or a sweep: under its lock, only while it is unfinished;
    # a failure is reported to Kaleidoscope as an error result. Returns what became of it (Outcome) and, when it was
    # processed to the end, the registration as Kaleidoscope then holds it:
    #   Final (it already was), Locked (another live processor holds it), Completed, Failed (reported as an error
    #   result, or final before the failure): nothing is left for this processor to do.
    #   Unread (its state could not be read; nothing was done), Unfinished (processing failed, and the error result
    #   could not be sent or the state read again): it may still be unfinished.
    param([Parameter(Mandatory)] $Item, [string[]] $RecordIds = @())
    $ids = @{ OperationId = $Item.OperationId; FileId = $Item.FileId }
    $lock = Enter-RegistrationLock @ids
    if (-not $lock) { return [pscustomobject]@{ Outcome = 'Locked'; Registration = $null } }
    try {
        try {
            $current = Get-KalRegistration @ids -ErrorAction Stop
        } catch {
            Write-Error -ErrorRecord $_ -ErrorAction Continue
            return [pscustomobject]@{ Outcome = 'Unread'; Registration = $null }
        }
        if ($current.Status -notin $unfinished) {
            Write-Information "Skipped file $($Item.FileId) in operation $($Item.OperationId): it is $($current.Status), which is final."
            return [pscustomobject]@{ Outcome = 'Final'; Registration = $null }
        }
        if ($current.Status -ne 'pending') {
            Write-Information "Resuming file $($Item.FileId) in operation $($Item.OperationId): a processor that stopped mid-way left it $($current.Status); starting again from the download."
        }
        try {
            return [pscustomobject]@{ Outcome = 'Completed'; Registration = (Invoke-RegistrationSteps -Item $Item -RecordIds $RecordIds) }
        } catch {
            Write-Error -ErrorRecord $_ -ErrorAction Continue
            # Leave no registration unfinished: report the failure unless results were already accepted.
            $reason = $_.Exception.Message
            try {
                if ((Get-KalRegistration @ids -ErrorAction Stop).Status -in $unfinished) {
                    Submit-KalRegistrationResult @ids -Status error -ErrorMessage "Processing failed: $reason" -ErrorAction Stop
                }
                return [pscustomobject]@{ Outcome = 'Failed'; Registration = $null }
            } catch {
                Write-Error -ErrorRecord $_ -ErrorAction Continue
                return [pscustomobject]@{ Outcome = 'Unfinished'; Registration = $null }
            }
        }
    } finally {
        Use-LockFolderGate { $lock.Dispose() }
    }
}

function Write-Outcome {
    # Counts what Invoke-Registration did (Processed: whether any attempt started processing) and writes the
    # registration it processed.
    param([Parameter(Mandatory)] $Result, [bool] $Processed = ($Result.Outcome -in 'Completed', 'Failed', 'Unfinished'))
    if ($Processed) { $script:processed++ }
    if ($Result.Outcome -in 'Failed', 'Unfinished', 'Unread') { $script:failed++ }
    if ($Result.Registration) { $Result.Registration }
}

# The states this processor itself leaves a registration in until its results are accepted: pending (nothing done
# yet), and validated or validation_failed (pushed before the results). A registration in one of them whose lock no
# live processor holds was left by a processor that stopped mid-way (a crash, kill -9, a reboot), so it is processed
# again from the download: pushing the status again is harmless, and results are submitted once, at the end.
# submitted, completed and failed are final.
$unfinished = 'pending', 'validated', 'validation_failed'
$lockFolder = Join-Path $WorkFolder '.locks'
$null = New-Item -ItemType Directory -Path $lockFolder -Force
$processed = 0
$failed = 0

if ($PSCmdlet.ParameterSetName -eq 'Sweep') {
    while ($true) {
        foreach ($operationId in $PollOperationId) {
            try {
                $queue = @(Get-KalRegistration -OperationId $operationId -Status $unfinished -ErrorAction Stop)
            } catch {
                $failed++
                Write-Error -ErrorRecord $_ -ErrorAction Continue
                continue
            }
            $pending = @($queue | Where-Object Status -EQ 'pending').Count
            $midWay = $queue.Count - $pending
            Write-Information "Sweep of operation ${operationId}: $pending pending $(if ($pending -eq 1) { 'registration' } else { 'registrations' })$(if ($midWay) { ", $midWay validated or validation_failed" })."
            foreach ($registration in $queue) {
                Write-Outcome (Invoke-Registration -Item $registration)
            }
        }
        if ($Once) { break }
        Start-Sleep -Seconds $PollIntervalSec
    }
} else {
    # Continue: a delivery that is not an event is answered 400 and reported, and the listener goes on. Failing to
    # start is a terminating error all the same.
    $listen = @{ Port = $Port; ListenAddress = $ListenAddress; ErrorAction = 'Continue' }
    if ($Path) { $listen.Path = $Path }
    if ($RequiredHeader) { $listen.RequiredHeader = $RequiredHeader }
    if ($SpoolPath) { $listen.SpoolPath = $SpoolPath }
    if ($Certificate) { $listen.Certificate = $Certificate }
    if ($Count -gt 0) { $listen.Count = $Count }
    if ($TimeoutSec -gt 0) { $listen.TimeoutSec = $TimeoutSec }

    # Receive-KalWebhookEvent says where it listens (address, port, path, HTTP or HTTPS, the spool) as it starts.
    # An event is acknowledged (answered 202, or removed from the spool) when this block returns from it, so it
    # returns only when the registration is final or another live processor holds it. Otherwise the registration is
    # tried again after a short wait, and then the block throws: the event is not acknowledged, the processor stops
    # (a service manager restarts it), and the sender or the spool delivers the event again. 2>&1 brings the errors
    # of deliveries that were not events here, in order, to be reported without stopping the listener.
    $retryDelaysSec = 2, 4, 8
    Receive-KalWebhookEvent @listen 2>&1 | ForEach-Object {
        if ($_ -is [Management.Automation.ErrorRecord]) {
            # Receiving fewer events than -Count within -TimeoutSec ends the processor with an error.
            if ($_.FullyQualifiedErrorId -like 'WebhookEventTimeout,*') { throw $_ }
            Write-Error -ErrorRecord $_ -ErrorAction Continue
            return
        }
        $registrationEvent = $_
        $where = "file $($registrationEvent.FileId) in operation $($registrationEvent.OperationId)"
        Write-Information "Event $($registrationEvent.EventType): file $($registrationEvent.FileName) ($($registrationEvent.FileId)) in operation $($registrationEvent.OperationId), $($registrationEvent.RecordIds.Count) records."
        $processedAny = $false
        for ($attempt = 1; ; $attempt++) {
            $result = Invoke-Registration -Item $registrationEvent -RecordIds $registrationEvent.RecordIds
            $processedAny = $processedAny -or $result.Outcome -in 'Completed', 'Failed', 'Unfinished'
            if ($result.Outcome -notin 'Unread', 'Unfinished' -or $attempt -gt $retryDelaysSec.Count) { break }
            $delay = $retryDelaysSec[$attempt - 1]
            Write-Warning "The registration of $where is not finished ($(if ($result.Outcome -eq 'Unread') { 'its state could not be read' } else { 'processing failed and it could not be reported' })); trying again in $delay s (attempt $($attempt + 1) of $($retryDelaysSec.Count + 1))."
            Start-Sleep -Seconds $delay
        }
        Write-Outcome $result -Processed $processedAny
        if ($result.Outcome -in 'Unread', 'Unfinished') {
            throw "The event for $where$(if ($registrationEvent.EventId) { " ($($registrationEvent.EventId))" }) is not acknowledged: its registration is not finished after $($retryDelaysSec.Count + 1) attempts (see the errors above). The processor stops so that the event is delivered again (with -SpoolPath it stays in the spool and is processed first after a restart); the sweep also picks the registration up."
        }
    }
}

if ($failed -gt 0) {
    throw "$failed $(if ($failed -eq 1) { 'failure' } else { 'failures' }) ($processed $(if ($processed -eq 1) { 'registration' } else { 'registrations' }) processed); see the errors above."
}
Write-Information "Done: $processed $(if ($processed -eq 1) { 'registration' } else { 'registrations' }) processed."
