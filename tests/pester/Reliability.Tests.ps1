# The rows of docs/reliability.md that need the built module in a real session: faults met by cmdlets, bad input
# refused before anything is sent, and the security warnings.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox
    $script:Content = "id,name`n1,aspirin`n"

    function Add-SandboxFile([string] $Id, [string] $Content = $script:Content) {
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = $Id; content = $Content }
    }

    function Add-Fault([hashtable] $Fault) { Invoke-Sandbox $script:Sandbox POST faults $Fault | Out-Null }

    function Get-ApiRequest {
        # -Answered waits for the last request's status: the client can finish reading before the server logs it.
        param([switch] $Answered)
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        do {
            $requests = @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -NE '/auth/oauth/token')
        } while ($Answered -and $requests.Count -and $requests[-1].status -eq 0 -and [DateTime]::UtcNow -lt $deadline)
        $requests
    }

    function Get-AnyRequest { @(Invoke-Sandbox $script:Sandbox GET requests) }

    function Clear-Request { Invoke-Sandbox $script:Sandbox DELETE requests | Out-Null }

    # A folder nobody may create files in. As root (these tests' usual lot) mode bits are ignored, so the folder is
    # made immutable (chattr +i); if that is not permitted either, /sys, which no process may write to, stands in.
    function New-ReadOnlyFolder([string] $Path) {
        $null = New-Item -ItemType Directory -Path $Path
        [IO.File]::SetUnixFileMode($Path, [IO.UnixFileMode] 0x16D) # r-xr-xr-x
        if (Test-FolderWritable $Path) { & chattr +i $Path 2>$null }
        if (Test-FolderWritable $Path) { return '/sys' }
        $Path
    }

    function Remove-ReadOnlyFolder([string] $Path) {
        if ($Path -eq '/sys' -or -not (Test-Path -LiteralPath $Path)) { return }
        & chattr -i $Path 2>$null
        [IO.File]::SetUnixFileMode($Path, [IO.UnixFileMode] 0x1ED) # rwxr-xr-x
    }

    function Test-FolderWritable([string] $Path) {
        $probe = Join-Path $Path ".probe-$([guid]::NewGuid().ToString('N'))"
        try {
            [IO.File]::WriteAllText($probe, '')
            [IO.File]::Delete($probe)
            $true
        } catch {
            $false
        }
    }
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'Faults survived' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Add-SandboxFile f1 | Out-Null
        $script:Folder = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
    }

    It '32 parallel Get-KalFile calls sharing one connection across a token expiry (<Case>) all succeed with exactly one refresh grant' -TestCases @(
        @{ Case = 'renewal due on the client'; ExpiredOnServer = $false }
        @{ Case = 'token expired on the server, so the calls meet 401s'; ExpiredOnServer = $true }
    ) {
        if (-not $ExpiredOnServer) { Invoke-Sandbox $script:Sandbox POST config @{ access_token_lifetime_seconds = 2 } | Out-Null }
        $connection = Connect-TestSandbox $script:Sandbox -PassThru -Extra @{ RetryIntervalSec = 0 }
        Invoke-Sandbox $script:Sandbox POST config @{ access_token_lifetime_seconds = 3600 } | Out-Null
        if ($ExpiredOnServer) {
            Invoke-Sandbox $script:Sandbox POST tokens/expire | Out-Null
        } else {
            Start-Sleep -Milliseconds 1100 # past half of the 2 s life: due for renewal
        }
        # A slow token endpoint keeps the one renewal in flight while the other calls arrive.
        Add-Fault @{ path_prefix = '/auth/'; delay_ms = 500 }
        $start = [Threading.Barrier]::new(32)
        $module = $env:KALBIO_TEST_MODULE
        $folder = $script:Folder

        $files = 1..32 | ForEach-Object -ThrottleLimit 32 -Parallel {
            Import-Module $using:module
            $null = ($using:start).SignalAndWait([TimeSpan]::FromSeconds(120))
            Get-KalFile f1 -FileName "copy-$_.csv" -Destination $using:folder -Connection $using:connection -ProgressAction SilentlyContinue
        } -ErrorVariable failures

        $failures | Should -BeNullOrEmpty
        $files | Should -HaveCount 32
        ($files.Name | Sort-Object -Unique) | Should -HaveCount 32
        $files | ForEach-Object { [IO.File]::ReadAllText($_.FullName) | Should -Be $script:Content }
        $grants = Invoke-Sandbox $script:Sandbox GET grants
        $grants.client_credentials | Should -Be 1
        $grants.refresh_token | Should -Be 1
        $grants.failed | Should -Be 0
        $grants.families_revoked | Should -Be 0
        $requests = Get-ApiRequest -Answered
        @($requests | Where-Object status -EQ 200) | Should -HaveCount 32
        $refused = @($requests | Where-Object status -EQ 401).Count
        if ($ExpiredOnServer) {
            # Calls that start after the renewal has finished already carry the new token; on a busy machine a few may.
            $refused | Should -BeGreaterThan 0
            $refused | Should -BeLessOrEqual 32
        } else {
            $refused | Should -Be 0
        }
    }

    It 'an access token revoked before its time: Get-KalFile renews it once, retries once and saves the file' {
        Connect-TestSandbox $script:Sandbox
        Invoke-Sandbox $script:Sandbox POST tokens/revoke @{ what = 'access' } | Out-Null

        $file = Get-KalFile f1 -Destination $script:Folder

        [IO.File]::ReadAllText($file.FullName) | Should -Be $script:Content
        (Get-ApiRequest -Answered).status | Should -Be @(401, 200)
        (Invoke-Sandbox $script:Sandbox GET grants).refresh_token | Should -Be 1
    }

    It 'the refresh token revoked as well: Get-KalFile falls back to the client credentials and saves the file' {
        Connect-TestSandbox $script:Sandbox
        Invoke-Sandbox $script:Sandbox POST tokens/revoke @{ what = 'all' } | Out-Null

        $file = Get-KalFile f1 -Destination $script:Folder -Verbose 4>&1 | Where-Object { $_ -is [IO.FileInfo] }

        [IO.File]::ReadAllText($file.FullName) | Should -Be $script:Content
        $grants = Invoke-Sandbox $script:Sandbox GET grants
        $grants.client_credentials | Should -Be 2
        $grants.failed | Should -Be 1
        (Get-ApiRequest -Answered).status | Should -Be @(401, 200)
    }

    It "429 on every attempt ends, after the connection's retry count, in a KalRateLimited LimitsExceeded error with the server's message" {
        Connect-TestSandbox $script:Sandbox -Extra @{ MaximumRetryCount = 2 }
        Add-Fault @{ path_prefix = '/files/f1'; status = 429; retry_after = '0'; times = 10; body = '{"code":"rate_limited","message":"Too many downloads"}' }

        Get-KalFile f1 -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'KalRateLimited,Kalbio.PowerShell.Commands.GetKalFileCommand'
        $failures[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'
        $failures[0].ToString() | Should -BeLike "Cannot download file 'f1': GET /files/f1 failed with 429 Too Many Requests: Too many downloads*"
        $failures[0].Exception.Attempts | Should -Be 3
        Get-ApiRequest | Should -HaveCount 3
        Get-ChildItem -LiteralPath $script:Folder -Force | Should -BeNullOrEmpty
    }

    It 'a 429 with Retry-After as an HTTP date is waited for, then the file is downloaded' {
        Connect-TestSandbox $script:Sandbox
        Add-Fault @{ path_prefix = '/files/f1'; status = 429; retry_after = [DateTimeOffset]::UtcNow.AddSeconds(2).ToString('r') }

        $output = Get-KalFile f1 -Destination $script:Folder -Verbose 4>&1

        ($output | Where-Object { $_ -is [IO.FileInfo] }).Name | Should -Be 'f1'
        ($output | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n" |
            Should -Match "429 Too Many Requests; retry 1 of 3 in [\d.]+ s \(as the server's Retry-After asks\)"
        (Get-ApiRequest -Answered).status | Should -Be @(429, 200)
    }

    It 'a download killed with kill -9 mid-body leaves the file that was there untouched and one hidden temporary file' -Skip:(-not $IsLinux) {
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = 'killed'; generated_size = 1MB } | Out-Null
        Add-Fault @{ path_prefix = '/files/killed'; stall_after_bytes = 200000 }
        $null = New-Item -ItemType Directory -Path $script:Folder
        Set-Content -LiteralPath (Join-Path $script:Folder 'killed') -Value 'the copy from yesterday' -NoNewline
        $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
        $script = "Import-Module '$env:KALBIO_TEST_MODULE'; Connect-KalApi -ClientId '$($script:Sandbox.ClientId)' -ClientSecret (ConvertTo-SecureString '$($script:Sandbox.ClientSecret)' -AsPlainText -Force) -BaseUri '$($script:Sandbox.Uri)' -TimeoutSec 120; Get-KalFile killed -Destination '$script:Folder' -ProgressAction SilentlyContinue"
        foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', $script) { $start.ArgumentList.Add($argument) }
        $child = [Diagnostics.Process]::Start($start)
        try {
            # The body has started to arrive in the temporary file, and the server now holds the rest back.
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not (Get-ChildItem -LiteralPath $script:Folder -Filter '.kal-*.tmp' -Force | Where-Object Length -GE 100000)) {
                if ([DateTime]::UtcNow -gt $deadline -or $child.HasExited) { throw 'The download did not start writing its temporary file.' }
                Start-Sleep -Milliseconds 50
            }

            & kill -9 $child.Id
            $child.WaitForExit()
        } finally {
            if (-not $child.HasExited) { $child.Kill() }
        }

        Get-Content -LiteralPath (Join-Path $script:Folder 'killed') -Raw | Should -Be 'the copy from yesterday'
        # A killed process cannot delete its temporary file; it is hidden, named for the module, and the next download
        # does not mistake it for the file.
        $left = @(Get-ChildItem -LiteralPath $script:Folder -Force | Where-Object Name -NE 'killed')
        $left | Should -HaveCount 1
        $left[0].Name | Should -Match '^\.kal-[0-9a-f]+\.tmp$'

        Invoke-Sandbox $script:Sandbox DELETE faults | Out-Null
        Connect-TestSandbox $script:Sandbox
        $file = Get-KalFile killed -Destination $script:Folder -ProgressAction SilentlyContinue
        (Get-FileHash -LiteralPath $file.FullName -Algorithm SHA256).Hash | Should -Be (Invoke-Sandbox $script:Sandbox GET files/killed/sha256).sha256.ToUpperInvariant()
    }

    It 'a server that stalls mid-body longer than -TimeoutSec gives a KalRequestTimedOut error naming the request, and no file' {
        Connect-TestSandbox $script:Sandbox -Extra @{ TimeoutSec = 1; MaximumRetryCount = 0 }
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = 'slow'; generated_size = 1MB } | Out-Null
        Add-Fault @{ path_prefix = '/files/slow'; stall_after_bytes = 1000 }

        Get-KalFile slow -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'KalRequestTimedOut,Kalbio.PowerShell.Commands.GetKalFileCommand'
        $failures[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $failures[0].ToString() | Should -BeLike "Cannot download file 'slow': GET /files/slow timed out: the server sent nothing for 1 s*-TimeoutSec*"
        Get-ChildItem -LiteralPath $script:Folder -Force | Should -BeNullOrEmpty
    }

    It '<Command> answered 200 with a body that is not JSON: KalInvalidResponse showing the start of the body' -TestCases @(
        @{ Command = 'Get-KalRegistration'; Path = '/operations/op-1/registrations'; Parameters = @{ OperationId = 'op-1' } }
        @{ Command = 'Register-KalFile'; Path = '/operations/op-1/register/f1'; Parameters = @{ OperationId = 'op-1'; FileId = 'f1' } }
    ) {
        Connect-TestSandbox $script:Sandbox
        Add-Fault @{ path_prefix = $Path; status = 200; content_type = 'text/html'; body = '<html><body>Session expired, please sign in again</body></html>' }

        $thrown = { & $Command @Parameters -ErrorAction Stop } | Should -Throw -PassThru

        $thrown.FullyQualifiedErrorId | Should -Be "KalInvalidResponse,Kalbio.PowerShell.Commands.$($Command -replace '-', '')Command"
        $thrown.CategoryInfo.Category | Should -Be 'InvalidResult'
        $thrown.Exception.Message | Should -BeLike "* $Path succeeded but the server answered with a body that is not JSON ('<html><body>Session expired, please sign in again</body></html>')*"
        Get-ApiRequest | Should -HaveCount 1
    }

    It 'Get-KalRegistration answered 200 with JSON that is not a list: KalInvalidResponse saying so' {
        Connect-TestSandbox $script:Sandbox
        Add-Fault @{ path_prefix = '/operations/op-1/registrations'; status = 200; content_type = 'application/json'; body = '{"items":[]}' }

        $thrown = { Get-KalRegistration -OperationId op-1 -ErrorAction Stop } | Should -Throw -PassThru

        $thrown.FullyQualifiedErrorId | Should -Be 'KalInvalidResponse,Kalbio.PowerShell.Commands.GetKalRegistrationCommand'
        $thrown.Exception.Message | Should -BeLike 'GET /operations/op-1/registrations succeeded but the server answered with expected a JSON array of registration files but found *'
    }

    It 'a token endpoint that answers 200 with HTML: Connect-KalApi fails with KalInvalidResponse showing the start of the body' {
        Add-Fault @{ path_prefix = '/auth/'; status = 200; content_type = 'text/html'; body = '<html><head><title>Sign in - Corporate Portal</title></head></html>' }

        $thrown = { Connect-TestSandbox $script:Sandbox } | Should -Throw -PassThru

        $thrown.FullyQualifiedErrorId | Should -Be 'KalInvalidResponse,Kalbio.PowerShell.Commands.ConnectKalApiCommand'
        $thrown.CategoryInfo.Category | Should -Be 'InvalidResult'
        $thrown.Exception.Message | Should -BeLike "*is not a token response: '<html><head><title>Sign in - Corporate Portal*Is the base URI the Kaleidoscope API?"
        Get-KalConnection | Should -BeNullOrEmpty
    }
}

Describe 'Submitting results: faults and large or unusual input' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Add-SandboxFile f1 | Out-Null
        Invoke-Sandbox $script:Sandbox POST registrations @{ operation_id = 'op1'; file_id = 'f1' } | Out-Null
        Connect-TestSandbox $script:Sandbox -Extra @{ RetryIntervalSec = 0 }
        Clear-Request

        function Get-ResultsRequest {
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            do {
                $requests = @(Get-AnyRequest | Where-Object path -EQ '/operations/op1/register/f1/results')
            } while ($requests.Count -and $requests[-1].status -eq 0 -and [DateTime]::UtcNow -lt $deadline)
            $requests
        }
    }

    It 'a <Status> with Retry-After <Form> on the results POST is waited for, and the same body is sent once more and lands once' -TestCases @(
        @{ Status = 429; Form = 'in seconds' }
        @{ Status = 429; Form = 'as an HTTP date' }
        @{ Status = 503; Form = 'as an HTTP date' }
    ) {
        $retryAfter = if ($Form -eq 'in seconds') { '1' } else { [DateTimeOffset]::UtcNow.AddSeconds(2).ToString('r') }
        Add-Fault @{ method = 'POST'; path_prefix = '/operations/'; status = $Status; retry_after = $retryAfter }

        $output = 'r1', 'r2' | New-KalRecordResult -Status matched | Submit-KalRegistrationResult op1 f1 -PassThru -Verbose 4>&1

        ($output | Where-Object { $_ -is [Kalbio.PowerShell.Model.KalResultSubmission] }).RecordCount | Should -Be 2
        ($output | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n" |
            Should -Match "POST /operations/op1/register/f1/results: $Status [A-Za-z ]+; retry 1 of 3 in [\d.]+ s \(as the server's Retry-After asks\)"
        $attempts = Get-ResultsRequest
        $attempts.status | Should -Be @($Status, 204)
        $attempts[1].body | Should -BeExactly $attempts[0].body
        @(Invoke-Sandbox $script:Sandbox GET submissions) | Should -HaveCount 1
    }

    It "a 429 on every attempt of the results POST ends in KalRateLimited (LimitsExceeded) after the connection's retry count" {
        Disconnect-KalApi
        Connect-TestSandbox $script:Sandbox -Extra @{ RetryIntervalSec = 0; MaximumRetryCount = 1 }
        Add-Fault @{ method = 'POST'; path_prefix = '/operations/'; status = 429; retry_after = '0'; times = 5; body = '{"code":"rate_limited","message":"Submissions are limited"}' }

        $thrown = { New-KalRecordResult r1 matched | Submit-KalRegistrationResult op1 f1 } | Should -Throw -PassThru

        $thrown.FullyQualifiedErrorId | Should -Be 'KalRateLimited,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.CategoryInfo.Category | Should -Be 'LimitsExceeded'
        $thrown.Exception.Message | Should -Be 'POST /operations/op1/register/f1/results failed with 429 Too Many Requests: Submissions are limited'
        $thrown.Exception.Attempts | Should -Be 2
        Get-ResultsRequest | Should -HaveCount 2
        Invoke-Sandbox $script:Sandbox GET submissions | Should -BeNullOrEmpty
    }

    It 'submits 1,000,000 records streamed from the pipeline in one request, every record received' {
        # Memory is not measured here (no timings or sizes in tests): ResultsPayloadTests.cs proves the buffer follows
        # the body's bytes, and bench/Submit-Results.Benchmark.ps1 -Rows 1000000 prints the peak.
        $count = 1000000
        $summary = & { foreach ($i in 0..($count - 1)) { [Kalbio.PowerShell.Model.KalRecordResult]::new("r$i", 'matched') } } |
            Submit-KalRegistrationResult op1 f1 -PassThru -ProgressAction SilentlyContinue

        # {"status":"success","records":[ ... ]} around records {"record_id":"r<i>","status":"matched"} joined by commas.
        $digits = 0 # the digits of 0 .. $count - 1: one each, one more for each from 10, from 100, ...
        for ($low = 10; $low -lt $count; $low *= 10) { $digits += $count - $low }
        $digits += $count
        $expectedLength = '{"status":"success","records":[]}'.Length + $count * '{"record_id":"r","status":"matched"}'.Length + $digits + ($count - 1)
        $summary.RecordCount | Should -Be $count
        $summary.Bytes | Should -Be $expectedLength
        $request = Get-ResultsRequest
        $request | Should -HaveCount 1
        $request.status | Should -Be 204
        $request.body_length | Should -Be $expectedLength
        $grants = Invoke-Sandbox $script:Sandbox GET grants
        $grants.client_credentials | Should -Be 1
        (Invoke-Sandbox $script:Sandbox GET registrations).status | Should -Be 'completed'
    }

    It 'submits a 10 MB data value, received exactly' {
        $chunk = 'The quick brown fox jumps over the lazy dog 0123456789. '
        $blob = ($chunk * [math]::Ceiling(10MB / $chunk.Length)).Substring(0, 10MB)

        New-KalRecordResult r1 matched -Data @{ blob = $blob } | Submit-KalRegistrationResult op1 f1

        $submission = Invoke-Sandbox $script:Sandbox GET submissions
        $submission.record_count | Should -Be 1
        $submission.body_length | Should -Be (10MB + '{"status":"success","records":[{"record_id":"r1","status":"matched","data":{"blob":""}}]}'.Length)
        $received = ($submission.body | ConvertFrom-Json).records[0].data.blob
        $received.Length | Should -Be 10MB
        $received -ceq $blob | Should -BeTrue
    }

    It 'submits non-BMP Unicode in record ids, data keys and values, and messages, received exactly' {
        $id = 'rec-🧪-名前'
        $key = '𝔘nicode key'
        $value = "🧪 assay 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — é 名前 👩‍🔬"
        $message = 'no match for 🧬'

        New-KalRecordResult $id error -Data @{ $key = $value } -ErrorMessage $message |
            Submit-KalRegistrationResult op1 f1 -ErrorMessage "file 📄 failed" -Status error -KeyFieldName $key

        $body = (Invoke-Sandbox $script:Sandbox GET submissions).body | ConvertFrom-Json
        $body.message | Should -BeExactly 'file 📄 failed'
        $body.key_field_names | Should -BeExactly $key
        $body.records[0].record_id | Should -BeExactly $id
        $body.records[0].data.$key | Should -BeExactly $value
        $body.records[0].error_message | Should -BeExactly $message
        [Text.Encoding]::UTF8.GetBytes($body.records[0].data.$key) | Should -Be ([Text.Encoding]::UTF8.GetBytes($value))
        (Invoke-Sandbox $script:Sandbox GET registrations).record_errors[0].source_record_id | Should -BeExactly $id
    }
}

Describe 'Bad input is refused with a stable ErrorId and a message that says what to fix, sending nothing' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Add-SandboxFile f1 | Out-Null
        $script:Folder = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
    }

    Context 'ids given to Get-KalFile' {
        BeforeEach {
            Connect-TestSandbox $script:Sandbox
            Clear-Request
        }

        It 'refuses the file id <Case>' -TestCases @(
            @{ Case = 'of white space only'; Id = '   '; Says = 'FileId is empty. Give the id from the event or the API*' }
            @{ Case = "with '/'"; Id = 'a/b'; Says = "*contains '/'. An id is a single value such as a UUID, not a path or URL; pass the id alone." }
            @{ Case = "with '?'"; Id = 'f1?x=1'; Says = "*contains '?'*pass the id alone*" }
            @{ Case = "with '#'"; Id = 'f1#top'; Says = "*contains '#'*pass the id alone*" }
            @{ Case = "with '\'"; Id = 'a\b'; Says = "*contains '\'*pass the id alone*" }
            @{ Case = "'..'"; Id = '..'; Says = "FileId '..' is not an id. Pass the id from the event or the API." }
            @{ Case = 'climbing out with ../'; Id = '../../etc/passwd'; Says = "*contains '/'*pass the id alone*" }
            @{ Case = 'with a NUL'; Id = "f1`0"; Says = '*contains a control character (such as a NUL or a line break). Pass the id alone, without them.' }
            @{ Case = 'with a line break'; Id = "f1`nf2"; Says = '*control character*' }
            @{ Case = 'with leading white space'; Id = ' f1'; Says = "*starts or ends with white space. Pass the id without it." }
        ) {
            $output = Get-KalFile -FileId $Id -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue

            $output | Should -BeNullOrEmpty
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidId,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failures[0].TargetObject | Should -Be $Id
            $failures[0].Exception.Message | Should -BeLike $Says
            Get-AnyRequest | Should -BeNullOrEmpty
            $script:Folder | Should -Not -Exist
        }

        It 'refuses an empty file id from the pipeline, item by item, and goes on with the next' {
            $files = @([pscustomobject]@{ file_id = '' }, [pscustomobject]@{ file_id = 'f1' }) |
                Get-KalFile -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue

            $files.Name | Should -Be 'f1'
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidId,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].Exception.Message | Should -BeLike 'FileId is empty*'
            (Get-AnyRequest).path | Should -Be '/files/f1'
        }

        It 'refuses an activity id that is a path' {
            Get-KalFile f1 -ActivityId 'act-1/../../files' -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue |
                Should -BeNullOrEmpty

            $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidId,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].Exception.Message | Should -BeLike "ActivityId 'act-1/../../files' contains '/'*"
            Get-AnyRequest | Should -BeNullOrEmpty
        }

        It 'sends an id with %, spaces, dots and non-BMP characters escaped as one path segment, and saves it under that exact name' {
            $id = "a%2F..%2Fb c.🧪𝔘"
            Add-SandboxFile $id 'escaped' | Out-Null

            $file = Get-KalFile -FileId $id -Destination $script:Folder

            $file.Name | Should -BeExactly $id
            [IO.File]::ReadAllText($file.FullName) | Should -Be 'escaped'
            (Get-ApiRequest).path | Should -BeExactly '/files/a%252F..%252Fb%20c.%F0%9F%A7%AA%F0%9D%94%98'
            (Get-ChildItem -LiteralPath $script:Folder -Force).Name | Should -BeExactly $id
        }
    }

    Context 'file names and destinations' {
        BeforeEach {
            Connect-TestSandbox $script:Sandbox
            Clear-Request
        }

        It 'refuses the file name <Case>' -TestCases @(
            @{ Case = 'with a line break'; Name = "two`nlines.csv"; Says = '*contains a control character*Give another -FileName.' }
            @{ Case = 'with a tab'; Name = "a`tb.csv"; Says = '*contains a control character*Give another -FileName.' }
            @{ Case = "'.'"; Name = '.'; Says = "*'.' is not a file name. Give another -FileName." }
            @{ Case = 'of white space only'; Name = '   '; Says = '*it is empty or only white space. Give another -FileName.' }
            @{ Case = 'of 100 CJK characters (300 bytes in UTF-8)'; Name = ('名' * 100); Says = '*it is 300 bytes long; file names can have at most 255. Give another -FileName.' }
        ) {
            Get-KalFile f1 -FileName $Name -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidFileName,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failures[0].Exception.Message | Should -BeLike $Says
            $failures[0].Exception.Message | Should -Not -Match '[\x00-\x1f]'
            Get-AnyRequest | Should -BeNullOrEmpty
            $script:Folder | Should -Not -Exist
        }

        It 'saves a name with non-BMP characters (surrogate pairs) exactly as given' {
            $name = "🧪 assay 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 名前 é.csv"

            $file = Get-KalFile f1 -FileName $name -Destination $script:Folder

            $file.Name | Should -BeExactly $name
            $saved = (Get-ChildItem -LiteralPath $script:Folder -Force).Name
            $saved | Should -BeExactly $name
            [Text.Encoding]::UTF8.GetBytes($saved) | Should -Be ([Text.Encoding]::UTF8.GetBytes($name))
            [IO.File]::ReadAllText($file.FullName) | Should -Be $script:Content
        }

        It 'a destination below a file is a clear error, and nothing is sent' {
            $file = Join-Path $TestDrive "plain-file-$([guid]::NewGuid().ToString('N'))"
            Set-Content -LiteralPath $file -Value 'in the way'

            $thrown = { Get-KalFile f1 -Destination (Join-Path $file 'sub') } | Should -Throw -PassThru

            $thrown.FullyQualifiedErrorId | Should -Be 'FileWriteFailed,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $thrown.CategoryInfo.Category | Should -Be 'WriteError'
            $thrown.ToString() | Should -BeLike "Cannot create the destination folder '$file/sub':*"
            Get-AnyRequest | Should -BeNullOrEmpty
            Get-Content -LiteralPath $file | Should -Be 'in the way'
        }

        It 'a read-only destination folder is a FileAccessDenied error, nothing is sent and nothing left in it' -Skip:$IsWindows {
            $readOnly = New-ReadOnlyFolder (Join-Path $TestDrive "read-only-$([guid]::NewGuid().ToString('N'))")
            try {
                $before = @(Get-ChildItem -LiteralPath $readOnly -Force -Name)

                Get-KalFile f1 -Destination $readOnly -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

                $failures | Should -HaveCount 1
                $failures[0].FullyQualifiedErrorId | Should -Be 'FileAccessDenied,Kalbio.PowerShell.Commands.GetKalFileCommand'
                $failures[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
                $failures[0].ToString() | Should -BeLike "Cannot save file 'f1' as '$readOnly/f1':*"
                @(Get-ChildItem -LiteralPath $readOnly -Force -Name) | Should -Be $before
                Get-AnyRequest | Should -BeNullOrEmpty
            } finally {
                Remove-ReadOnlyFolder $readOnly
            }
        }

        It 'a destination that would have to be created inside a read-only folder is a terminating error, and nothing is sent' -Skip:$IsWindows {
            $readOnly = New-ReadOnlyFolder (Join-Path $TestDrive "read-only-$([guid]::NewGuid().ToString('N'))")
            try {
                $thrown = { Get-KalFile f1 -Destination (Join-Path $readOnly 'new-folder') } | Should -Throw -PassThru

                $thrown.FullyQualifiedErrorId | Should -Be 'FileAccessDenied,Kalbio.PowerShell.Commands.GetKalFileCommand'
                $thrown.CategoryInfo.Category | Should -Be 'PermissionDenied'
                $thrown.ToString() | Should -BeLike "Cannot create the destination folder '$readOnly/new-folder':*"
                Join-Path $readOnly 'new-folder' | Should -Not -Exist
                Get-AnyRequest | Should -BeNullOrEmpty
            } finally {
                Remove-ReadOnlyFolder $readOnly
            }
        }
    }

    Context 'connections' {
        It 'Connect-KalApi refuses <Case>' -ForEach @(
            @{ Case = 'a file: base URI'; Parameters = @{ BaseUri = 'file:///tmp/api' }; ErrorId = 'InvalidBaseUri'; Says = "*is not an absolute http:// or https:// address. Give the API's address*" }
            @{ Case = 'a base URI of white space'; Parameters = @{ BaseUri = '   ' }; ErrorId = 'InvalidBaseUri'; Says = "The base URI is empty. Give the API's address*" }
            @{ Case = 'a base URI with a user name and password, which the error does not repeat'; Parameters = @{ BaseUri = 'http://someone:hunter2-pw@127.0.0.1:1/' }; ErrorId = 'InvalidBaseUri'; Says = "The base URI 'http://127.0.0.1:1/' must not carry a query, fragment or user name*"; NotShown = 'hunter2-pw' }
            @{ Case = 'a base URI with a key in its query, which the error does not repeat'; Parameters = @{ BaseUri = 'https://127.0.0.1:1/api?api_key=k-12345678' }; ErrorId = 'InvalidBaseUri'; Says = "The base URI 'https://127.0.0.1:1/api' must not carry a query*"; NotShown = 'k-12345678' }
            @{ Case = 'the token header as an additional header'; Parameters = @{ AdditionalHeader = @{ 'X-Kal-Authorization' = 'Bearer mine' } }; ErrorId = 'InvalidAdditionalHeader'; Says = "The header 'X-Kal-Authorization' is set by the module itself*" }
            @{ Case = 'Host as an additional header'; Parameters = @{ AdditionalHeader = @{ Host = 'elsewhere.test' } }; ErrorId = 'InvalidAdditionalHeader'; Says = "The header 'Host' is set by the module itself*" }
            @{ Case = 'a header value with a line break (header injection)'; Parameters = @{ AdditionalHeader = @{ 'X-Source' = "a`r`nX-Evil: 1" } }; ErrorId = 'InvalidAdditionalHeader'; Says = "The value of header 'X-Source' is empty or contains a line break or NUL." }
            @{ Case = 'a header name with a colon'; Parameters = @{ AdditionalHeader = @{ 'X-Bad: name' = 'v' } }; ErrorId = 'InvalidAdditionalHeader'; Says = "*is not a valid HTTP header name*" }
            @{ Case = 'a client id with a line break'; Parameters = @{ ClientId = "sandbox-client`n" }; ErrorId = 'InvalidClientId'; Says = '*contains a control character*Give the client id exactly as issued.' }
            @{ Case = 'a client id of white space'; Parameters = @{ ClientId = '   ' }; ErrorId = 'MissingClientId'; Says = 'The client id is empty. Give -ClientId*' }
            @{ Case = 'an empty client secret'; Parameters = @{ ClientSecret = [securestring]::new() }; ErrorId = 'MissingClientSecret'; Says = "No client secret was given for client id 'sandbox-client'. Give -ClientSecret*" }
            @{ Case = 'a timeout of 0 s'; Parameters = @{ TimeoutSec = 0 }; ErrorId = 'ParameterArgumentValidationError'; Category = 'InvalidData'; Says = "*'TimeoutSec'*The 0 argument is less than the minimum allowed range of 1*" }
            @{ Case = 'a negative retry count'; Parameters = @{ MaximumRetryCount = -1 }; ErrorId = 'ParameterArgumentValidationError'; Category = 'InvalidData'; Says = "*'MaximumRetryCount'*less than the minimum allowed range of 0*" }
        ) {
            $arguments = @{ ClientId = $script:Sandbox.ClientId; ClientSecret = (New-TestSecret); BaseUri = $script:Sandbox.Uri }
            foreach ($key in $Parameters.Keys) { $arguments[$key] = $Parameters[$key] }

            $thrown = { Connect-KalApi @arguments } | Should -Throw -PassThru

            $thrown.FullyQualifiedErrorId | Should -Be "$ErrorId,Kalbio.PowerShell.Commands.ConnectKalApiCommand"
            $thrown.CategoryInfo.Category | Should -Be $(if ($_.Category) { $_.Category } else { 'InvalidArgument' })
            $thrown.Exception.Message | Should -BeLike $Says
            if ($_.NotShown) { "$($thrown.Exception.Message) $($thrown.TargetObject) $thrown" | Should -Not -BeLike "*$($_.NotShown)*" }
            Get-AnyRequest | Should -BeNullOrEmpty
            Get-KalConnection | Should -BeNullOrEmpty
        }

        Context 'with the environment' {
            BeforeEach {
                $script:SavedEnvironment = @{}
                foreach ($name in 'KALEIDOSCOPE_API_CLIENT_ID', 'KALEIDOSCOPE_API_CLIENT_SECRET', 'KALEIDOSCOPE_API_URL') {
                    $script:SavedEnvironment[$name] = [Environment]::GetEnvironmentVariable($name)
                    [Environment]::SetEnvironmentVariable($name, $null)
                }
            }

            AfterEach {
                foreach ($name in $script:SavedEnvironment.Keys) { [Environment]::SetEnvironmentVariable($name, $script:SavedEnvironment[$name]) }
            }

            It 'Get-KalFile with no connection and no environment variables fails once with KalNotConnected' {
                $thrown = { 'f1', 'f2' | ForEach-Object { [pscustomobject]@{ file_id = $_ } } | Get-KalFile -Destination $script:Folder } | Should -Throw -PassThru

                $thrown.FullyQualifiedErrorId | Should -Be 'KalNotConnected,Kalbio.PowerShell.Commands.GetKalFileCommand'
                $thrown.CategoryInfo.Category | Should -Be 'AuthenticationError'
                $thrown.Exception.Message | Should -BeLike 'Not connected to the Kaleidoscope API. Run Connect-KalApi, or set KALEIDOSCOPE_API_CLIENT_ID and KALEIDOSCOPE_API_CLIENT_SECRET*'
                Get-AnyRequest | Should -BeNullOrEmpty
                $script:Folder | Should -Not -Exist
            }

            It 'Get-KalFile with only KALEIDOSCOPE_API_CLIENT_ID set says which variable is missing' {
                $env:KALEIDOSCOPE_API_CLIENT_ID = 'sandbox-client'
                $env:KALEIDOSCOPE_API_URL = $script:Sandbox.Uri

                $thrown = { Get-KalFile f1 -Destination $script:Folder } | Should -Throw -PassThru

                $thrown.FullyQualifiedErrorId | Should -Be 'IncompleteEnvironmentCredentials,Kalbio.PowerShell.Commands.GetKalFileCommand'
                $thrown.Exception.Message | Should -Be 'KALEIDOSCOPE_API_CLIENT_ID is set but KALEIDOSCOPE_API_CLIENT_SECRET is not. Set both, or run Connect-KalApi.'
                Get-AnyRequest | Should -BeNullOrEmpty
            }

            It 'Connect-KalApi with only KALEIDOSCOPE_API_CLIENT_SECRET set says to set both or pass -ClientId and -ClientSecret' {
                $env:KALEIDOSCOPE_API_CLIENT_SECRET = 'sandbox-secret'
                $env:KALEIDOSCOPE_API_URL = $script:Sandbox.Uri

                $thrown = { Connect-KalApi } | Should -Throw -PassThru

                $thrown.FullyQualifiedErrorId | Should -Be 'IncompleteEnvironmentCredentials,Kalbio.PowerShell.Commands.ConnectKalApiCommand'
                $thrown.Exception.Message | Should -Be 'KALEIDOSCOPE_API_CLIENT_SECRET is set but KALEIDOSCOPE_API_CLIENT_ID is not. Set both, or pass -ClientId and -ClientSecret.'
                Get-AnyRequest | Should -BeNullOrEmpty
            }

            It 'Get-KalFile with a KALEIDOSCOPE_API_URL that is not an http address refuses it' {
                $env:KALEIDOSCOPE_API_CLIENT_ID = 'sandbox-client'
                $env:KALEIDOSCOPE_API_CLIENT_SECRET = 'sandbox-secret'
                $env:KALEIDOSCOPE_API_URL = '127.0.0.1:5080'

                $thrown = { Get-KalFile f1 -Destination $script:Folder } | Should -Throw -PassThru

                $thrown.FullyQualifiedErrorId | Should -Be 'InvalidBaseUri,Kalbio.PowerShell.Commands.GetKalFileCommand'
                $thrown.Exception.Message | Should -BeLike "The base URI '127.0.0.1:5080' is not an absolute http:// or https:// address*"
                Get-AnyRequest | Should -BeNullOrEmpty
            }
        }
    }
}

Describe 'Security warnings and TLS' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
    }

    It 'a self-signed https sandbox is refused without -SkipCertificateCheck, and accepted with it after a warning' {
        $https = Start-TestSandbox -ArgumentList '--https'
        try {
            $https.Uri | Should -BeLike 'https://127.0.0.1:*'

            $thrown = { Connect-TestSandbox $https } | Should -Throw -PassThru

            $thrown.FullyQualifiedErrorId | Should -Be 'KalConnectionFailed,Kalbio.PowerShell.Commands.ConnectKalApiCommand'
            $thrown.Exception.Message | Should -BeLike "*the server's TLS certificate was not accepted*connect with -SkipCertificateCheck."
            $thrown.Exception.Attempts | Should -Be 1
            Get-KalConnection | Should -BeNullOrEmpty

            Connect-KalApi -ClientId $https.ClientId -ClientSecret (New-TestSecret) -BaseUri $https.Uri -SkipCertificateCheck -WarningVariable warnings -WarningAction SilentlyContinue

            $warnings | Should -HaveCount 1
            "$warnings" | Should -Be "-SkipCertificateCheck is set: the TLS certificate of $($https.Uri)/ is not checked, so anyone on the network path could read the client secret and the data. Use it only for a private deployment you trust."
            (Get-KalConnection).SkipCertificateCheck | Should -BeTrue
            (Invoke-RestMethod "$($https.Uri)/_sandbox/grants" -SkipCertificateCheck).client_credentials | Should -Be 1
        } finally {
            Disconnect-KalApi
            Stop-TestSandbox $https
        }
    }

    It 'plain http to a host that is not loopback is warned about before the secret is sent (through a loopback proxy: nothing leaves the machine)' {
        # The child's HTTP proxy is the sandbox on 127.0.0.1, so the request for the made-up host goes there, by
        # absolute URI; the host name is never looked up.
        $script = @'
Import-Module $env:KALBIO_TEST_MODULE
$secret = ConvertTo-SecureString $env:KAL_TEST_SECRET -AsPlainText -Force
Connect-KalApi -ClientId sandbox-client -ClientSecret $secret -BaseUri 'http://kal-lab.example.test/' -MaximumRetryCount 0 -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop
"WARNING: $warnings"
"CONNECTED: $((Get-KalConnection).BaseUri)"
'@
        # Environment variable names are case-sensitive here, so both spellings are set (and emptied).
        $proxy = [hashtable]::new([StringComparer]::Ordinal)
        foreach ($name in 'http_proxy', 'HTTP_PROXY') { $proxy[$name] = $script:Sandbox.Uri }
        foreach ($name in 'no_proxy', 'NO_PROXY', 'all_proxy', 'ALL_PROXY') { $proxy[$name] = '' }
        $proxy.KAL_TEST_SECRET = 'sandbox-secret'

        $output = Invoke-ChildPwsh -Script $script -Environment $proxy

        $output | Should -Contain 'WARNING: http://kal-lab.example.test/ is plain http: the client secret, tokens and data cross the network unencrypted. Use https unless this is a test server.'
        $output | Should -Contain 'CONNECTED: http://kal-lab.example.test/'
        $tokenRequest = Get-AnyRequest | Where-Object path -EQ '/auth/oauth/token'
        $tokenRequest | Should -HaveCount 1
        $tokenRequest.headers.host | Should -Be 'kal-lab.example.test'
    }

    It 'http on loopback and https with checking on are not warned about' {
        Connect-KalApi -ClientId $script:Sandbox.ClientId -ClientSecret (New-TestSecret) -BaseUri $script:Sandbox.Uri -WarningVariable warnings

        $warnings | Should -BeNullOrEmpty
        (Get-KalConnection).SkipCertificateCheck | Should -BeFalse
    }
}
