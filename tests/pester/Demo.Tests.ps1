BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
}

Describe 'The end-to-end demo (build.ps1 -Task Demo after the build)' {
    # 'native' is the pwsh executable next to pwsh.dll, as a user with PowerShell installed runs it; the driver starts
    # the workflow with whichever pwsh runs it, so both ways must work.
    It 'receives the event, downloads, validates, submits 8 matched and 4 not found, shows the registration and exits 0 (<Kind> pwsh)' -ForEach @(
        @{ Kind = 'dotnet' }, @{ Kind = 'native' }
    ) {
        $driver = Join-Path $script:Root 'tools/Invoke-Demo.ps1'
        $script = "`$ErrorActionPreference = 'Stop'; & '$driver' -ModulePath '$env:KALBIO_TEST_MODULE' -SandboxPath '$env:KALBIO_TEST_SANDBOX'"

        # Invoke-ChildPwsh throws when the demo exits non-zero.
        $output = if ($Kind -eq 'native') {
            $native = Join-Path $PSHOME 'pwsh'
            Test-Path -LiteralPath $native -PathType Leaf | Should -BeTrue -Because "the pinned PowerShell package has its native pwsh at $native"
            Invoke-ChildPwsh -Script $script -PwshPath $native
        } else {
            Invoke-ChildPwsh -Script $script
        }
        $text = $output -join "`n"

        $text | Should -Match 'Event registration_submitted: file compounds-2026-11\.csv \(3f6c2a9e-5b1d-4c8e-9a7f-1e2d3c4b5a60\)'
        $text | Should -Match 'Downloaded compounds-2026-11\.csv'
        $text | Should -Match 'Validated 12 records\.'
        $text | Should -Match 'Submitted 12 results: 8 matched, 4 not found\.'
        $text | Should -Match 'Status\s+: completed'
        $text | Should -Match 'Record errors \(4\):'
        foreach ($record in 'rec-0006', 'rec-0008', 'rec-0011', 'rec-0012') {
            $text | Should -Match "$record\s+not_found\s+No registry entry has smiles"
        }
        $text | Should -Match 'Demo succeeded\.'
    }
}

Describe 'examples/Invoke-RegistrationWorkflow.ps1 when a file fails validation' {
    BeforeAll {
        $script:Sandbox = Start-TestSandbox
    }

    AfterAll {
        Disconnect-KalApi
        if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
    }

    It 'pushes validation_failed, reports an error result and exits non-zero' {
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = 'bad-file'; file_name = 'bad.csv'; content = "record_id,name`nr1,Aspirin`n"; record_ids = @('r1') } | Out-Null
        $probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $probe.Start(); $port = $probe.LocalEndpoint.Port; $probe.Stop()
        Invoke-Sandbox $script:Sandbox POST config @{ webhook_url = "http://127.0.0.1:$port/" } | Out-Null

        $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
        foreach ($argument in '-NoProfile', '-NonInteractive', '-File', (Join-Path $script:Root 'examples/Invoke-RegistrationWorkflow.ps1'),
            '-RegistryPath', (Join-Path $script:Root 'examples/registry.csv'), '-BaseUri', $script:Sandbox.Uri, '-Port', $port,
            '-Count', '1', '-TimeoutSec', '60', '-WorkFolder', (Join-Path $TestDrive 'work')) {
            $start.ArgumentList.Add("$argument")
        }
        $start.Environment['PSModulePath'] = (Split-Path -Parent $env:KALBIO_TEST_MODULE) + [IO.Path]::PathSeparator + $env:PSModulePath
        $start.Environment['KALEIDOSCOPE_API_CLIENT_ID'] = $script:Sandbox.ClientId
        $start.Environment['KALEIDOSCOPE_API_CLIENT_SECRET'] = $script:Sandbox.ClientSecret
        $start.Environment['NO_COLOR'] = '1'
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $process = [Diagnostics.Process]::Start($start)
        try {
            $null = $process.StandardOutput.ReadToEndAsync()  # drained so the child never blocks on a full pipe
            $stderr = $process.StandardError.ReadToEndAsync()
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            $listening = $false
            while (-not $listening -and -not $process.HasExited -and [DateTime]::UtcNow -lt $deadline) {
                $listening = Test-LocalPortListening $port
                if (-not $listening) { Start-Sleep -Milliseconds 50 }
            }
            $listening | Should -BeTrue -Because "the workflow should listen on port $port"

            Connect-TestSandbox $script:Sandbox
            Register-KalFile -OperationId op-bad -FileId bad-file -ErrorAction Stop | Out-Null

            $process.WaitForExit(60000) | Should -BeTrue
            $process.WaitForExit()
            $process.ExitCode | Should -Be 1
            $stderr.Result | Should -Match 'failed validation: the file has no smiles column'
            $registration = Get-KalRegistration -OperationId op-bad -FileId bad-file
            $registration.Status | Should -Be 'failed'
            $registration.Message | Should -Be 'Validation failed: the file has no smiles column.'
            $statusPush = Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -EQ '/operations/op-bad/registration_files/bad-file/status'
            $statusPush.body | Should -Be '{"status":"validation_failed","message":"Validation failed: the file has no smiles column."}'
        } finally {
            if (-not $process.HasExited) { $process.Kill($true) }
            $process.Dispose()
        }
    }
}
