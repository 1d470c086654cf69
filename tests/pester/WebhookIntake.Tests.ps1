# Receive-KalWebhookEvent in real child processes: kill -9 with and without a spool, what a console shows on
# arrival, and the one line that says where it listens.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest

    # A pwsh (this same PowerShell) running Script with the built module imported; its output is read line by line.
    function Start-ChildReceiver([string] $Script) {
        $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
            $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
        }
        foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', "Import-Module '$env:KALBIO_TEST_MODULE'; $Script") { $start.ArgumentList.Add($argument) }
        $start.Environment['NO_COLOR'] = '1'
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.UseShellExecute = $false
        $process = [Diagnostics.Process]::Start($start)
        [pscustomobject]@{ Process = $process; Lines = [Collections.Generic.List[string]]::new(); Pending = $process.StandardOutput.ReadLineAsync(); Errors = $process.StandardError.ReadToEndAsync() }
    }

    # Reads the child's output until a line matches; fails after 30 s or when the child ends first.
    function Wait-ChildLine($Child, [string] $Pattern) {
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ([DateTime]::UtcNow -lt $deadline) {
            if ($Child.Pending.Wait(50)) {
                $line = $Child.Pending.Result
                if ($null -eq $line) { throw "The child ended before printing '$Pattern': $($Child.Lines -join "`n") $($Child.Errors.Result)" }
                $Child.Lines.Add($line)
                $Child.Pending = $Child.Process.StandardOutput.ReadLineAsync()
                if ($line -match $Pattern) { return $line }
            }
        }
        throw "The child printed no line matching '$Pattern' within 30 s: $($Child.Lines -join "`n")"
    }

    function Stop-ChildReceiver($Child) {
        if (-not $Child.Process.HasExited) { $Child.Process.Kill() }
        $Child.Process.WaitForExit()
        $Child.Process.Dispose()
    }

    function Send-Event([int] $Port, [string] $FileId, [string] $EventId) {
        $body = '{"event_type":"registration_submitted","event_id":"' + $EventId + '","operation_id":"op-1","file_id":"' + $FileId + '","file_name":"' + $FileId + '.csv","record_ids":["r1"]}'
        $script:Http.PostAsync("http://127.0.0.1:$Port/hooks", [Net.Http.StringContent]::new($body, [Text.Encoding]::UTF8, 'application/json'))
    }

    $handler = [Net.Http.SocketsHttpHandler]::new()
    $handler.UseProxy = $false
    $script:Http = [Net.Http.HttpClient]::new($handler)
    $script:Http.Timeout = [TimeSpan]::FromSeconds(60)
}

AfterAll {
    $script:Http.Dispose()
}

Describe 'Receive-KalWebhookEvent when the processor is killed (kill -9)' {
    BeforeEach {
        $script:Port = Get-FreePort
        $script:Spool = Join-Path $TestDrive "spool-$([guid]::NewGuid())"
    }

    It 'without a spool, an event being processed was never answered 2xx, so the sender keeps it' {
        $child = Start-ChildReceiver "Receive-KalWebhookEvent -Port $script:Port -Path /hooks | ForEach-Object { [Console]::Out.WriteLine('processing ' + `$_.FileId); Start-Sleep -Seconds 60 }"
        try {
            Wait-ChildLine $child 'Listening for webhook events' | Out-Null
            $sending = Send-Event $script:Port 'f-1' 'ev-1'
            Wait-ChildLine $child '^processing f-1$' | Out-Null

            $child.Process.Kill()

            $answered = try { [int]$sending.GetAwaiter().GetResult().StatusCode } catch [Net.Http.HttpRequestException] { 0 }
            $answered | Should -Not -BeIn 200..299
        } finally {
            Stop-ChildReceiver $child
        }
    }

    It 'with a spool, an event answered 202 and killed mid-processing is written to the pipeline by the next listener' {
        $child = Start-ChildReceiver "Receive-KalWebhookEvent -Port $script:Port -Path /hooks -SpoolPath '$script:Spool' | ForEach-Object { [Console]::Out.WriteLine('processing ' + `$_.FileId); Start-Sleep -Seconds 60 }"
        try {
            Wait-ChildLine $child 'Listening for webhook events' | Out-Null
            $answer = (Send-Event $script:Port 'f-1' 'ev-1').GetAwaiter().GetResult()
            [int]$answer.StatusCode | Should -Be 202
            Wait-ChildLine $child '^processing f-1$' | Out-Null

            $child.Process.Kill()
            $child.Process.WaitForExit()
        } finally {
            Stop-ChildReceiver $child
        }

        $next = Invoke-ChildPwsh -Script "Import-Module '$env:KALBIO_TEST_MODULE'; Receive-KalWebhookEvent -Port $(Get-FreePort) -SpoolPath '$script:Spool' -Count 1 6>`$null | ForEach-Object { 'again ' + `$_.FileId + ' ' + `$_.EventId }"

        $next | Should -Be 'again f-1 ev-1'
        Get-ChildItem -LiteralPath $script:Spool -Filter *.event.json | Should -BeNullOrEmpty
    }
}

Describe 'Receive-KalWebhookEvent in a console' {
    BeforeEach { $script:Port = Get-FreePort }

    It 'shows each event as it arrives, before the next one' {
        $child = Start-ChildReceiver "Receive-KalWebhookEvent -Port $script:Port -Path /hooks"
        try {
            Wait-ChildLine $child 'Listening for webhook events' | Out-Null
            [int](Send-Event $script:Port 'first-file' 'ev-1').GetAwaiter().GetResult().StatusCode | Should -Be 202

            # No second event is sent: the first must be on screen by itself.
            $line = Wait-ChildLine $child 'first-file'

            $line | Should -Match '^FileId\s+: first-file$'
            Wait-ChildLine $child '^RecordCount\s+: 1$' | Out-Null
            $child.Process.HasExited | Should -BeFalse
        } finally {
            Stop-ChildReceiver $child
        }
    }

    It 'says once, in the information stream, where it listens: <Scheme> address, port and path' -TestCases @(
        @{ Scheme = 'http'; Parameters = ''; Kind = 'plain HTTP' }
        @{ Scheme = 'https'; Parameters = '-Certificate $certificate'; Kind = 'HTTPS' }
    ) {
        $shell = [powershell]::Create()
        try {
            $null = $shell.AddScript(@"
Import-Module '$env:KALBIO_TEST_MODULE'
`$key = [Security.Cryptography.RSA]::Create(2048)
`$request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=kalbio-pester', `$key, 'SHA256', [Security.Cryptography.RSASignaturePadding]::Pkcs1)
`$certificate = `$request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddMinutes(-5), [DateTimeOffset]::UtcNow.AddHours(1))
Receive-KalWebhookEvent -Port $($script:Port) -Path /kal/events -TimeoutSec 1 $Parameters
"@)
            $shell.Invoke() | Should -BeNullOrEmpty
            $shell.Streams.Error | Should -BeNullOrEmpty

            $lines = @($shell.Streams.Information | Where-Object { "$($_.MessageData)" -like 'Listening for webhook events*' })
            $lines | Should -HaveCount 1
            "$($lines[0].MessageData)" | Should -BeLike "Listening for webhook events at $($Scheme)://127.0.0.1:$($script:Port)/kal/events ($Kind)*"
            $lines[0].Tags | Should -Contain 'PSHOST'
        } finally {
            $shell.Dispose()
        }
    }
}

Describe 'Receive-KalWebhookEvent when a command downstream fails with its own terminating error' {
    # Submit-KalRegistrationResult refuses piped input that gave no results (NoRecordResults), a cmdlet's terminating
    # error: by itself it ends only its statement, the script block goes on and the event counts as processed.
    BeforeAll { $script:Sandbox = Start-TestSandbox }
    AfterAll { if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox } }
    BeforeEach {
        $script:Port = Get-FreePort
        $script:Spool = Join-Path $TestDrive "spool-$([guid]::NewGuid())"
    }

    It '<Pattern>: the delivery is answered <Answer> without a spool, and the event is <Spooled> with one' -TestCases @(
        @{ Pattern = "`$ErrorActionPreference = 'Stop' at the top of the block (as documented)"; Top = "`$ErrorActionPreference = 'Stop'; "; Parameter = ''; Answer = 503; Spooled = 'kept' }
        @{ Pattern = 'no preference (the trap)'; Top = ''; Parameter = ''; Answer = 202; Spooled = 'removed' }
        @{ Pattern = '-ErrorAction Stop on the call only'; Top = ''; Parameter = '-ErrorAction Stop'; Answer = 202; Spooled = 'removed' }
    ) {
        $connect = "Connect-KalApi -ClientId $($script:Sandbox.ClientId) -ClientSecret (ConvertTo-SecureString '$($script:Sandbox.ClientSecret)' -AsPlainText -Force) -BaseUri '$($script:Sandbox.Uri)' -ErrorAction Stop"
        $block = "{ $Top@() | Submit-KalRegistrationResult -OperationId `$_.OperationId -FileId `$_.FileId $Parameter; [Console]::Out.WriteLine('went on ' + `$_.FileId) }"
        foreach ($withSpool in $false, $true) {
            $spoolParameter = if ($withSpool) { "-SpoolPath '$script:Spool'" } else { '' }
            $child = Start-ChildReceiver "$connect; Receive-KalWebhookEvent -Port $script:Port -Path /hooks -Count 1 $spoolParameter | ForEach-Object $block"
            try {
                Wait-ChildLine $child 'Listening for webhook events' | Out-Null
                $status = [int](Send-Event $script:Port 'f-1' "ev-$withSpool").GetAwaiter().GetResult().StatusCode
                $child.Process.WaitForExit(30000) | Should -BeTrue
                $child.Errors.Result | Should -Match 'NoRecordResults|No record results came in'
                $events = @(Get-ChildItem -LiteralPath $script:Spool -Filter *.event.json -ErrorAction SilentlyContinue)
                if ($withSpool) {
                    $status | Should -Be 202 -Because 'a spooled event is answered once it is on disk'
                    $events.Count | Should -Be $(if ($Spooled -eq 'kept') { 1 } else { 0 })
                } else {
                    $status | Should -Be $Answer
                }
                if ($Answer -eq 503) { $child.Process.ExitCode | Should -Not -Be 0 } else { $child.Process.ExitCode | Should -Be 0 }
            } finally {
                Stop-ChildReceiver $child
            }
        }
    }

    It 'every documented processor (README quick start, Receive-KalWebhookEvent and Submit-KalRegistrationResult help) sets $ErrorActionPreference = ''Stop'' first in its ForEach-Object block' {
        $root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
        $checked = 0
        foreach ($document in 'README.md', 'docs/help/Receive-KalWebhookEvent.md', 'docs/help/Submit-KalRegistrationResult.md') {
            $text = Get-Content -LiteralPath (Join-Path $root $document) -Raw
            foreach ($block in [regex]::Matches($text, '(?s)```powershell\r?\n(.*?)```').ForEach({ $_.Groups[1].Value })) {
                $processor = [regex]::Match($block, '(?s)Receive-KalWebhookEvent[^\n]*?(?:\n[^\n]*?)*?\|\s*ForEach-Object \{\s*\r?\n\s*(?<first>[^\r\n]*)')
                if (-not $processor.Success) { continue }
                $checked++
                $processor.Groups['first'].Value | Should -Match "^\`$ErrorActionPreference = 'Stop'(\s+#.*)?$" -Because "the processor in $document must keep an event whose step fails:`n$block"
            }
        }
        $checked | Should -BeGreaterOrEqual 4
    }
}
