# The secret scan of docs/reliability.md: the suite's main scenarios run in a child pwsh with -Verbose -Debug under
# Start-Transcript, errors shown every way PowerShell can show them; then everything captured is searched for the
# client secret, every token the sandbox issued, and the proxy header's value.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox

    # Like Invoke-ChildPwsh, but keeps standard output and standard error apart, and never throws: both are scanned.
    function Invoke-ScannedPwsh([string] $Script, [hashtable] $Environment) {
        $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
            $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
        }
        $scriptFile = Join-Path $TestDrive "scan-$([guid]::NewGuid().ToString('N')).ps1"
        Set-Content -LiteralPath $scriptFile -Value $Script
        foreach ($argument in '-NoProfile', '-NonInteractive', '-File', $scriptFile) { $start.ArgumentList.Add($argument) }
        foreach ($name in $Environment.Keys) { $start.Environment[$name] = $Environment[$name] }
        $start.Environment['NO_COLOR'] = '1'
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $process = [Diagnostics.Process]::Start($start)
        $errorTask = $process.StandardError.ReadToEndAsync()
        $output = $process.StandardOutput.ReadToEnd()
        $process.WaitForExit()
        [pscustomobject]@{ ExitCode = $process.ExitCode; StandardOutput = $output; StandardError = $errorTask.Result }
    }
}

AfterAll {
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'Secrets in what a session shows' {
    BeforeAll {
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        $script:Secret = "scan-secret-$([guid]::NewGuid().ToString('N'))"
        $script:ProxyToken = "proxy-token-$([guid]::NewGuid().ToString('N'))"
        $script:WebhookSecret = "webhook-secret-$([guid]::NewGuid().ToString('N'))"
        Invoke-Sandbox $script:Sandbox POST config @{ webhook_headers = @{ 'X-Webhook-Secret' = $script:WebhookSecret } } | Out-Null
        Invoke-Sandbox $script:Sandbox POST clients @{ client_id = 'scan-client'; client_secret = $script:Secret } | Out-Null
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = 'f1'; content = "id,name`n1,aspirin`n" } | Out-Null
        Invoke-Sandbox $script:Sandbox POST registrations @{ operation_id = 'op-scan'; file_id = 'f1' } | Out-Null
        $transcript = Join-Path $TestDrive 'transcript.txt'

        # Secrets reach the child through its environment, so no script line PowerShell echoes in an error holds one.
        $child = @'
$ErrorActionPreference = 'Continue'
$VerbosePreference = 'Continue'
$DebugPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
Import-Module $env:KALBIO_TEST_MODULE -Verbose:$false
$null = Start-Transcript -LiteralPath $env:KAL_SCAN_TRANSCRIPT -IncludeInvocationHeader
$uri = $env:KAL_SCAN_URI
$folder = $env:KAL_SCAN_FOLDER
$headers = @{ Authorization = "Bearer $env:KAL_SCAN_PROXY"; 'X-Request-Source' = 'secret-scan' }

function Invoke-Control([string] $Method, [string] $Path, $Body) {
    $parameters = @{ Method = $Method; Uri = "$uri/_sandbox/$Path"; Verbose = $false; Debug = $false }
    if ($null -ne $Body) { $parameters.Body = $Body | ConvertTo-Json -Compress; $parameters.ContentType = 'application/json' }
    Invoke-RestMethod @parameters
}

# Every way an error is commonly looked at.
function Show-Failure($record) {
    "=== error $($record.FullyQualifiedErrorId)"
    $record
    $record | Format-List * -Force | Out-String -Width 400
    $record.Exception | Format-List * -Force | Out-String -Width 400
    $record.Exception.ToString()
    $record.ErrorDetails | Format-List * -Force | Out-String -Width 400
    $record.InvocationInfo | Format-List * -Force | Out-String -Width 400
}

'--- a wrong secret'
try {
    $wrong = ConvertTo-SecureString "$env:KAL_SCAN_SECRET-wrong" -AsPlainText -Force
    Connect-KalApi -ClientId scan-client -ClientSecret $wrong -BaseUri $uri -AdditionalHeader $headers -Verbose -Debug -ErrorAction Stop
} catch {
    Show-Failure $_
}

'--- connect'
$secret = ConvertTo-SecureString $env:KAL_SCAN_SECRET -AsPlainText -Force
Connect-KalApi -ClientId scan-client -ClientSecret $secret -BaseUri $uri -AdditionalHeader $headers -RetryIntervalSec 0 -Verbose -Debug
Get-KalConnection | ConvertTo-Json -Depth 5
Get-KalConnection | Format-List * -Force | Out-String -Width 400
Get-KalConnection | Format-Table * | Out-String -Width 400
"$(Get-KalConnection)"

'--- download'
Get-KalFile f1 -Destination $folder -Verbose -Debug | Format-List * | Out-String -Width 400

'--- 404'
Get-KalFile missing -Destination $folder -Verbose -Debug -ErrorAction SilentlyContinue -ErrorVariable failed
Show-Failure $failed[0]

'--- 401, then one renewal'
Invoke-Control POST tokens/expire
Get-KalFile f1 -Destination $folder -Verbose -Debug | Out-Null

'--- the whole token family revoked: client-credentials fallback'
Invoke-Control POST tokens/revoke @{ what = 'all' }
Get-KalFile f1 -Destination $folder -Verbose -Debug | Out-Null

'--- the server echoes the token and the secret in an error'
$used = @(Invoke-Control GET requests | ForEach-Object { $_ } | Where-Object { $_.headers.PSObject.Properties['x-kal-authorization'] })[-1].headers.'x-kal-authorization'
$echo = @{ code = 'forbidden'; message = "token $($used -replace '^Bearer ') and secret $env:KAL_SCAN_SECRET and proxy $env:KAL_SCAN_PROXY are not welcome here" } | ConvertTo-Json -Compress
Invoke-Control POST faults @{ path_prefix = '/files/f1'; status = 403; body = $echo; content_type = 'application/json' }
Get-KalFile f1 -Destination $folder -Verbose -Debug -ErrorAction SilentlyContinue -ErrorVariable failed
Show-Failure $failed[0]

'--- Invoke-KalApiRequest'
Invoke-KalApiRequest GET programs -Verbose -Debug | Format-List * | Out-String -Width 400
Invoke-KalApiRequest POST programs -Body @{ name = 'scan'; note = 'hello' } -Confirm:$false -Verbose -Debug | Out-String -Width 400
Invoke-KalApiRequest GET programs/none -Verbose -Debug -ErrorAction SilentlyContinue -ErrorVariable failed
Show-Failure $failed[0]
Invoke-Control POST faults @{ path_prefix = '/programs'; status = 401; times = 2; body = $echo; content_type = 'application/json' }
Invoke-KalApiRequest GET programs -Verbose -Debug -ErrorAction SilentlyContinue -ErrorVariable failed
Show-Failure $failed[0]

'--- submit results'
'r1', 'r2' | New-KalRecordResult -Status matched -Data @{ id = 'CMP-1' } -Verbose -Debug |
    Submit-KalRegistrationResult op-scan f1 -KeyFieldName id -PassThru -Verbose -Debug | Format-List * | Out-String -Width 400
Invoke-Control POST faults @{ method = 'POST'; path_prefix = '/operations/'; status = 400; body = $echo; content_type = 'application/json' }
try {
    New-KalRecordResult r1 matched | Submit-KalRegistrationResult op-scan f1 -Verbose -Debug -ErrorAction Stop
} catch {
    Show-Failure $_
}
@{ record_id = 'r1' } | Submit-KalRegistrationResult op-scan f1 -Verbose -Debug -ErrorAction SilentlyContinue -ErrorVariable failed
$failed | Where-Object { $_ -is [Management.Automation.ErrorRecord] } | ForEach-Object { Show-Failure $_ }
Invoke-Control POST tokens/expire
New-KalRecordResult r3 matched | Submit-KalRegistrationResult op-scan f1 -Verbose -Debug

'--- registrations'
Register-KalFile -OperationId op-reg -FileId f1 -Verbose -Debug | Format-List * | Out-String -Width 400
Set-KalRegistrationStatus -OperationId op-reg -FileId f1 -Status validated -Message 'checked' -PassThru -Confirm:$false -Verbose -Debug | Format-List * | Out-String -Width 400
Get-KalRegistration -OperationId op-scan -Verbose -Debug | Format-List * | Out-String -Width 400
Set-KalRegistrationStatus -OperationId op-reg -FileId no-such-file -Status validated -Confirm:$false -Verbose -Debug -ErrorAction SilentlyContinue -ErrorVariable failed
$failed | Where-Object { $_ -is [Management.Automation.ErrorRecord] } | ForEach-Object { Show-Failure $_ }
Invoke-Control POST faults @{ path_prefix = '/operations/op-reg/registrations'; status = 200; content_type = 'text/html'; body = "<html>$echo</html>" }
try { Get-KalRegistration -OperationId op-reg -Verbose -Debug -ErrorAction Stop } catch { Show-Failure $_ }

'--- a webhook event with a shared secret header'
$probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
$probe.Start(); $port = $probe.LocalEndpoint.Port; $probe.Stop()
# The sandbox sends (with the secret header from its config) until the listener has taken the event.
$sender = Start-ThreadJob -ArgumentList $uri, $port -ScriptBlock {
    param($uri, $port)
    $body = @{ operation_id = 'op-reg'; file_id = 'f1'; url = "http://127.0.0.1:$port/hook" } | ConvertTo-Json -Compress
    foreach ($attempt in 1..150) {
        try {
            if ((Invoke-RestMethod -Method Post -Uri "$uri/_sandbox/webhooks/send" -Body $body -ContentType application/json).status -eq 202) { return 'delivered' }
        } catch { }
        Start-Sleep -Milliseconds 200
    }
    'never delivered'
}
Receive-KalWebhookEvent -Port $port -Path /hook -RequiredHeader @{ 'X-Webhook-Secret' = $env:KAL_SCAN_WEBHOOK } -Count 1 -TimeoutSec 60 -Verbose -Debug | Format-List * | Out-String -Width 400
"webhook sender: $($sender | Wait-Job | Receive-Job)"
$sender | Remove-Job

'--- every error of the session'
$Error | ForEach-Object { Show-Failure $_ }
Stop-Transcript
'--- done'
'@
        $script:Run = Invoke-ScannedPwsh -Script $child -Environment @{
            KAL_SCAN_SECRET     = $script:Secret
            KAL_SCAN_PROXY      = $script:ProxyToken
            KAL_SCAN_WEBHOOK    = $script:WebhookSecret
            KAL_SCAN_URI        = $script:Sandbox.Uri
            KAL_SCAN_FOLDER     = (Join-Path $TestDrive 'files')
            KAL_SCAN_TRANSCRIPT = $transcript
        }
        $script:Transcript = if (Test-Path -LiteralPath $transcript) { Get-Content -LiteralPath $transcript -Raw } else { '' }
        $script:Captured = @($script:Run.StandardOutput, $script:Run.StandardError, $script:Transcript) -join "`n"
        $script:Issued = @(Invoke-Sandbox $script:Sandbox GET tokens/issued)
    }

    It 'ran every scenario to the end (the scan below is not of an empty capture)' {
        $script:Run.ExitCode | Should -Be 0
        $script:Run.StandardOutput | Should -Match '--- done'
        $script:Transcript | Should -Match 'PowerShell transcript start'
        $script:Transcript | Should -Match '--- Invoke-KalApiRequest'
        foreach ($expected in @(
                'KalAuthenticationFailed,Kalbio.PowerShell.Commands.ConnectKalApiCommand'
                'FileNotFound,Kalbio.PowerShell.Commands.GetKalFileCommand'
                'KalPermissionDenied,Kalbio.PowerShell.Commands.GetKalFileCommand'
                'KalNotFound,Kalbio.PowerShell.Commands.InvokeKalApiRequestCommand'
                'KalAuthenticationFailed,Kalbio.PowerShell.Commands.InvokeKalApiRequestCommand'
                'KalInvalidRequest,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
                'RecordResultsInvalid,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
                'POST /operations/op-scan/register/f1/results -> 204'
                'POST /operations/op-reg/registration_files/f1/status -> 204'
                'KalRegistrationNotFound,Kalbio.PowerShell.Commands.SetKalRegistrationStatusCommand'
                'KalInvalidResponse,Kalbio.PowerShell.Commands.GetKalRegistrationCommand'
                'EventType'
                'webhook sender: delivered'
                'POST /auth/oauth/token -> 200'
                'GET /files/f1 -> 401'
                'the access token was refused; renewing it and trying once more'
                'requesting a new token with the client credentials'
                'X-Kal-Authorization: ***'
                'Authorization: ***'
                'client_secret=***'
                'refresh_token=***'
                'are not welcome here'
                'AdditionalHeaderNames'
            )) {
            $script:Captured.Contains($expected) | Should -BeTrue -Because "the capture should show '$expected'"
        }
        $grants = Invoke-Sandbox $script:Sandbox GET grants
        # The connect and the fallback after the family was revoked; the wrong secret and the revoked refresh failed.
        $grants.client_credentials | Should -Be 2
        $grants.refresh_token | Should -Be 3 # after each expiry, and after the first 401 of Invoke-KalApiRequest
        @(Invoke-Sandbox $script:Sandbox GET submissions) | Should -HaveCount 2
        $grants.failed | Should -Be 2
    }

    It 'holds the client secret nowhere: not in stdout, stderr or the transcript' {
        $script:Run.StandardOutput.Contains($script:Secret) | Should -BeFalse
        $script:Run.StandardError.Contains($script:Secret) | Should -BeFalse
        $script:Transcript.Contains($script:Secret) | Should -BeFalse
    }

    It 'holds none of the <Count> tokens the sandbox issued' -TestCases @(@{ Count = 'access and refresh' }) {
        $script:Issued.Count | Should -BeGreaterOrEqual 6
        $leaked = @($script:Issued | Where-Object { $script:Captured.Contains($_) })
        # Only positions are reported, so a failure does not print a token either.
        $leaked.Count | Should -Be 0 -Because "tokens at positions $(@($leaked | ForEach-Object { [array]::IndexOf($script:Issued, $_) }) -join ', ') of GET /_sandbox/tokens/issued appear in the capture"
    }

    It 'holds the proxy token given with -AdditionalHeader nowhere' {
        $script:Captured.Contains($script:ProxyToken) | Should -BeFalse
    }

    It "holds the webhook's shared secret (Receive-KalWebhookEvent -RequiredHeader) nowhere" {
        $script:Captured.Contains($script:WebhookSecret) | Should -BeFalse
    }
}
