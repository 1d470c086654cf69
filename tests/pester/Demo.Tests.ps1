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

Describe 'Trying it locally: the sandbox as build.ps1 -Task Sandbox starts it, and the README quick start against it' {
    BeforeAll {
        $probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $probe.Start(); $script:ListenPort = $probe.LocalEndpoint.Port; $probe.Stop()
        $script:WebhookUrl = "http://127.0.0.1:$script:ListenPort/kaleidoscope/events"
        # The arguments build.ps1 -Task Sandbox -WebhookUrl passes (with a free port instead of 5080).
        $script:Sandbox = Start-TestSandbox -ArgumentList '--seed-demo', '--guide', '--webhook-url', $script:WebhookUrl, '--send-demo-event'
        $script:Guide = @(while ($true) {
                $line = $script:Sandbox.Process.StandardOutput.ReadLine()
                if ($null -eq $line) { break }
                $line
                if ($line -like 'Control endpoints*') { break }
            })
    }

    AfterAll {
        if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
    }

    It 'prints the credentials, the seeded file id, the operation id, the line to connect with and where the event goes' {
        $text = $script:Guide -join "`n"
        $text | Should -Match 'client secret\s+sandbox-secret'
        $text | Should -Match 'seeded file id\s+3f6c2a9e-5b1d-4c8e-9a7f-1e2d3c4b5a60 \(compounds-2026-11\.csv, 12 records\)'
        $text | Should -Match 'operation id\s+a1d5e7f0-3c2b-4e8d-9f6a-7b5c4d3e2f10'
        $text | Should -Match ([regex]::Escape("Connect-KalApi -ClientId sandbox-client -ClientSecret (Read-Host -AsSecureString 'Client secret') -BaseUri $($script:Sandbox.Uri)"))
        $text | Should -Match ([regex]::Escape("registration_submitted for compounds-2026-11.csv goes to $script:WebhookUrl"))
        $text | Should -Match 'docs/sandbox\.md'
    }

    It 'runs the README quick start as written: it receives the event, downloads, submits 12 results, 4 not found' {
        $readme = Get-Content -LiteralPath (Join-Path $script:Root 'README.md') -Raw
        $readme -match '(?s)## Quick start[^\n]*\n.*?```powershell\r?\n(.*?)\r?\n```' | Should -BeTrue
        # Only the listener's port differs from the README: 8080 may be taken on a shared machine.
        $quickStart = $Matches[1] -replace '-Port 8080\b', "-Port $script:ListenPort"
        $work = Join-Path $TestDrive 'examples'
        $null = New-Item -ItemType Directory -Path $work
        Copy-Item -LiteralPath (Join-Path $script:Root 'examples/registry.csv') -Destination $work
        # As README's "Trying it locally" says, in the examples folder; Read-Host stands in for typing the secret.
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$env:KALBIO_TEST_MODULE'
`$env:KALEIDOSCOPE_API_URL = '$($script:Sandbox.Uri)'
`$clientId = 'sandbox-client'
function Read-Host { param([string] `$Prompt, [switch] `$AsSecureString) ConvertTo-SecureString 'sandbox-secret' -AsPlainText -Force }
$quickStart
"@

        $output = Invoke-ChildPwsh -Script $script -WorkingDirectory $work

        ($output -join "`n") | Should -Match 'a1d5e7f0-3c2b-4e8d-9f6a-7b5c4d3e2f10'
        Join-Path $work 'inbox/compounds-2026-11.csv' | Should -Exist
        $registration = Invoke-Sandbox $script:Sandbox GET registrations | Where-Object file_id -EQ '3f6c2a9e-5b1d-4c8e-9a7f-1e2d3c4b5a60'
        $registration.status | Should -Be 'completed'
        @($registration.record_errors | Where-Object status -EQ 'not_found').Count | Should -Be 4
        (Invoke-Sandbox $script:Sandbox GET submissions).record_count | Should -Be 12
    }

    It 'docs/sandbox.md documents every control endpoint, and about_Kalbio has a "Trying it locally" section' {
        $source = Get-Content -LiteralPath (Join-Path $script:Root 'src/Kalbio.Sandbox/ControlEndpoints.cs') -Raw
        $endpoints = [regex]::Matches($source, 'case "(GET|POST|DELETE)" when path\.Matches\(1, "([^"]+)"') |
            ForEach-Object { "$($_.Groups[1].Value) /_sandbox/$($_.Groups[2].Value -replace '\{\}', '{id}')" }
        $endpoints.Count | Should -BeGreaterThan 10
        $doc = Get-Content -LiteralPath (Join-Path $script:Root 'docs/sandbox.md') -Raw
        foreach ($endpoint in $endpoints) {
            $method, $path = $endpoint -split ' '
            $doc | Should -Match "$method $([regex]::Escape($path))\b" -Because "docs/sandbox.md should document $endpoint"
        }
        (Get-Help about_Kalbio | Out-String) | Should -Match '(?s)TRYING IT LOCALLY.*build\.ps1 -Task Sandbox -WebhookUrl'
    }
}
