BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
    Import-Module (Join-Path $script:Root 'tools/TestSuites.psm1') -Force
}

# The log of build.ps1 -Task Test: what failed and why, and a summary per suite; no line per passed test, no stray
# "What if:" lines. build.ps1 runs both suites through tools/TestSuites.psm1, as these tests do.
Describe 'The test log' {
    It 'Pester: shows a failed test with its error and the summary, and neither the passed tests nor "What if:" lines' {
        $fixture = Join-Path $TestDrive 'suite'
        $null = New-Item -ItemType Directory -Path $fixture
        Set-Content -LiteralPath (Join-Path $fixture 'Sample.Tests.ps1') -Value @'
BeforeAll {
    function Set-Thing { [CmdletBinding(SupportsShouldProcess)] param() if ($PSCmdlet.ShouldProcess('the thing', 'Set')) { } }
}
Describe 'A sample' {
    It 'passes quietly' { Set-Thing -WhatIf; 1 | Should -Be 1 }
    It 'fails loudly' { 1 | Should -Be 2 -Because 'this fixture fails on purpose' }
}
'@
        $pester = Join-Path ([IO.Path]::GetDirectoryName((Get-Module Pester).Path)) 'Pester.psd1'
        $pwsh = @([Environment]::ProcessPath) + @(if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $arguments = @('-NoProfile', '-NonInteractive', '-File', (Join-Path $PSScriptRoot 'Invoke-PesterSuite.ps1'),
            '-PesterPath', $pester, '-ModulePath', $env:KALBIO_TEST_MODULE, '-SandboxPath', $env:KALBIO_TEST_SANDBOX,
            '-SummaryPath', (Join-Path $TestDrive 'summary.json'), '-ResultPath', (Join-Path $TestDrive 'pester.xml'),
            '-PackagePath', $env:KALBIO_TEST_PACKAGES, '-TestPath', $fixture)

        $log = @(Invoke-PesterSuiteChild -PwshCommand $pwsh -ArgumentList $arguments)
        $exitCode = $LASTEXITCODE
        $text = $log -join "`n"

        $exitCode | Should -Be 1
        $text | Should -Match '\[-\] A sample\.fails loudly'
        $text | Should -Match 'this fixture fails on purpose'
        $text | Should -Match 'Tests Passed: 1, Failed: 1'
        $text | Should -Not -Match 'passes quietly'
        $text | Should -Not -Match 'What if:'
        (Get-Content -LiteralPath (Join-Path $TestDrive 'summary.json') -Raw | ConvertFrom-Json).Failed | Should -Be 1
    }

    It 'xunit: shows the summary, not a line per passed test' {
        $project = Join-Path $script:Root 'tests/Kalbio.PowerShell.Tests'
        $configuration = if (Test-Path (Join-Path $project 'bin/Release')) { 'Release' } else { 'Debug' }

        $log = @(Invoke-XunitSuite -Project $project -Configuration $configuration -ResultsDirectory $TestDrive -TrxName 'part.trx' -Filter 'FullyQualifiedName~FilesApiTests')
        $text = $log -join "`n"

        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Match 'Passed!\s+-\s+Failed:\s+0, Passed:\s+[1-9]'
        $log | Where-Object { $_ -match '^\s+Passed\s' } | Should -BeNullOrEmpty
        Join-Path $TestDrive 'part.trx' | Should -Exist
    }
}

Describe 'The working tree after following the README' {
    It 'git ignores the folders the README downloads into (<Folder>)' -ForEach @(@{ Folder = 'inbox' }, @{ Folder = 'incoming' }, @{ Folder = 'examples/inbox' }) {
        Push-Location -LiteralPath $script:Root
        try { $null = & git check-ignore -q -- "$Folder/compounds-2026-11.csv" } finally { Pop-Location }
        $LASTEXITCODE | Should -Be 0 -Because "./$Folder holds downloaded files, which must never be committed"
    }
}
