# Flat memory at any size (issue 14, item 3): above the spool threshold the results body lives in a temporary file,
# which is re-sent whole on a retry and never left behind (Ctrl+C, kill -9).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'ResultsTestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox
    $script:Operation = 'op-spool'
    $script:File = 'file-spool'
    $script:Threshold = 1MB


    function Wait-Until([scriptblock] $Condition, [int] $Seconds = 60) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { return $false }
            Start-Sleep -Milliseconds 50
        }
        $true
    }

    # Rows of 1 MB each, then a pipeline that waits forever: the body is spooled and the submission never ends by itself.
    $script:EndlessRows = '& { foreach ($i in 1..4) { @{ record_id = "r$i"; status = "matched"; data = @{ v = "x" * 1MB } } }; while ($true) { Start-Sleep -Milliseconds 50 } }'
}

AfterAll {
    Remove-Item Env:KALBIO_SPOOL_THRESHOLD -ErrorAction SilentlyContinue
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'A results body above the spool threshold' {
    BeforeEach {
        Reset-TestRegistration $script:Sandbox $script:Operation $script:File
        $env:KALBIO_SPOOL_THRESHOLD = [string] $script:Threshold
    }
    AfterEach { Remove-Item Env:KALBIO_SPOOL_THRESHOLD -ErrorAction SilentlyContinue }

    It 'sends a 10 MB value from the spool file, and the same body again after a 503' {
        Invoke-Sandbox $script:Sandbox POST faults @{ method = 'POST'; path_prefix = '/operations/'; status = 503; retry_after = '0' } | Out-Null
        $value = 'é' * 5MB
        $verbose = New-KalRecordResult r1 matched -Data @{ v = $value } |
            Submit-KalRegistrationResult $script:Operation $script:File -Verbose 4>&1
        $expected = '{"status":"success","records":[{"record_id":"r1","status":"matched","data":{"v":"' + $value + '"}}]}'

        $attempts = @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -Like '/operations/*/results')
        $attempts.status | Should -Be @(503, 204)
        $attempts[0].body_length | Should -Be ([Text.Encoding]::UTF8.GetByteCount($expected))
        $attempts[1].body_length | Should -Be $attempts[0].body_length
        $submission = @(Invoke-Sandbox $script:Sandbox GET submissions)
        $submission[0].sha256 | Should -Be (Get-TestSha256 $expected)
        ($verbose | Out-String) | Should -BeLike '*temporary file*'
    }

    It 'keeps a body under the threshold in memory (no spool file)' {
        $verbose = New-KalRecordResult r1 matched | Submit-KalRegistrationResult $script:Operation $script:File -Verbose 4>&1
        ($verbose | Out-String) | Should -Not -BeLike '*temporary file*'
    }

    It 'leaves no spool file and no open handle after Ctrl+C mid-pipeline' -Skip:(-not $IsLinux) {
        $temp = Join-Path $TestDrive 'tmp-stop'
        $null = New-Item -ItemType Directory -Path $temp
        $savedTemp = $env:TMPDIR
        $env:TMPDIR = $temp
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$env:KALBIO_TEST_MODULE'
                Connect-KalApi -ClientId '$($script:Sandbox.ClientId)' -ClientSecret (ConvertTo-SecureString '$($script:Sandbox.ClientSecret)' -AsPlainText -Force) -BaseUri '$($script:Sandbox.Uri)'
                $($script:EndlessRows) | Submit-KalRegistrationResult $($script:Operation) $($script:File)")
            $run = $ps.BeginInvoke()
            Wait-Until { @(Get-OpenSpoolFile $PID).Count -gt 0 -or $run.IsCompleted } | Should -BeTrue
            $open = @(Get-OpenSpoolFile $PID)
            $open.Count | Should -Be 1 -Because 'the body is spooled while the pipeline runs'
            $open[0] | Should -BeLike "$temp/kalbio-results-*"
            $ps.Stop()
            @(Get-OpenSpoolFile $PID).Count | Should -Be 0 -Because 'Ctrl+C closes the spool file at once, not at some later garbage collection'
            @(Get-ChildItem -LiteralPath $temp -Force) | Should -BeNullOrEmpty
        } finally {
            $ps.Dispose()
            $env:TMPDIR = $savedTemp
        }
        @(Invoke-Sandbox $script:Sandbox GET submissions) | Should -BeNullOrEmpty
    }

    It 'leaves no spool file when the process is killed (kill -9) mid-pipeline' -Skip:(-not $IsLinux) {
        $temp = Join-Path $TestDrive 'tmp-kill'
        $null = New-Item -ItemType Directory -Path $temp
        $script = Join-Path $TestDrive 'endless.ps1'
        Set-Content -LiteralPath $script -Value "Import-Module '$env:KALBIO_TEST_MODULE'
            $($script:EndlessRows) | Submit-KalRegistrationResult $($script:Operation) $($script:File)"
        $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
        foreach ($argument in '-NoProfile', '-NonInteractive', '-File', $script) { $start.ArgumentList.Add($argument) }
        $start.Environment['TMPDIR'] = $temp
        $start.Environment['KALBIO_SPOOL_THRESHOLD'] = [string] $script:Threshold
        $start.Environment['KALEIDOSCOPE_API_URL'] = $script:Sandbox.Uri
        $start.Environment['KALEIDOSCOPE_API_CLIENT_ID'] = $script:Sandbox.ClientId
        $start.Environment['KALEIDOSCOPE_API_CLIENT_SECRET'] = $script:Sandbox.ClientSecret
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $child = [Diagnostics.Process]::Start($start)
        try {
            Wait-Until { @(Get-OpenSpoolFile $child.Id).Count -gt 0 -or $child.HasExited } | Should -BeTrue
            (Get-OpenSpoolFile $child.Id) | Should -BeLike "$temp/kalbio-results-*" -Because "the child spools the body ($(if ($child.HasExited) { $child.StandardError.ReadToEnd() }))"
            & kill -9 $child.Id
            $child.WaitForExit(10000) | Should -BeTrue
            @(Get-ChildItem -LiteralPath $temp -Force | Where-Object Name -Like 'kalbio-results-*') | Should -BeNullOrEmpty
        } finally {
            if (-not $child.HasExited) { $child.Kill() }
            $child.Dispose()
        }
        @(Invoke-Sandbox $script:Sandbox GET submissions) | Should -BeNullOrEmpty
    }
}
