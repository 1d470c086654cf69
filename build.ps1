#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, packages and demonstrates the Kalbio PowerShell module.
.DESCRIPTION
    Build    compiles the solution and assembles the importable module in out/Kalbio and the sandbox in out/sandbox.
    Test     Build, then the style check (dotnet format --verify-no-changes, as .editorconfig says), the xunit tests,
             then the Pester tests (in a child pwsh that imports out/Kalbio); exits non-zero when any of them fails.
    Format   applies .editorconfig to the C# sources (dotnet format), so the Test task's style check passes.
    Sandbox  Build, then runs the local Kaleidoscope API emulator in the foreground (Ctrl+C stops it) and prints the
             credentials, the seeded file and operation ids and the line to connect with; with -WebhookUrl it sends the
             demo file's registration_submitted event there once a listener answers. See docs/sandbox.md.
    Demo     Build, then the end-to-end demo (tools/Invoke-Demo.ps1): the sandbox plays Kaleidoscope and
             examples/Invoke-RegistrationWorkflow.ps1 processes one registration event; exits non-zero on any failure.
    Package  Build, then out/package/Kalbio.<version>.nupkg, installable with Install-PSResource from a
             local folder repository.
    Clean    removes out/ and every bin/ and obj/ folder.
    Mutation mutation testing of the core's safety code (Stryker.NET, pinned in the tool manifest, with the xunit
             suite; scope and settings in tests/mutation/stryker-config.json): HTML and JSON reports in out/mutation,
             then the score of each file, the survivors and the mutants marked equivalent. Fails below the config's
             thresholds (high: the whole scope, low: each file). Not part of Test or CI: it takes tens of minutes.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Format', 'Sandbox', 'Demo', 'Package', 'Clean', 'Mutation')]
    [string[]] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Port for -Task Sandbox.
    [int] $Port = 5080,

    # For -Task Sandbox: where to send the demo file's registration_submitted event, as soon as a listener there
    # answers (e.g. http://127.0.0.1:8080/kaleidoscope/events for the README's quick start).
    [string] $WebhookUrl,

    # Runs only the Pester files whose names match (e.g. Connection); the style check and xunit are skipped when given.
    [string] $PesterFilter,

    # For -Task Mutation: mutates only these files (names such as RetryPolicy, or globs such as **/Http/*.cs).
    [string[]] $MutateFilter
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
if ($env:CI) { $PSStyle.OutputRendering = 'PlainText' }

$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleOut = Join-Path $Out 'Kalbio'
$SandboxOut = Join-Path $Out 'sandbox'
$ResultsOut = Join-Path $Out 'test-results'
$ModuleProject = Join-Path $Root 'src/Kalbio.PowerShell'
$SandboxProject = Join-Path $Root 'src/Kalbio.Sandbox'
$TestProject = Join-Path $Root 'tests/Kalbio.PowerShell.Tests'
$HelpSource = Join-Path $Root 'docs/help'

function Invoke-Native {
    param([Parameter(Mandatory)][string] $FilePath, [string[]] $ArgumentList = @())
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) { throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $LASTEXITCODE." }
}

# The pwsh that runs this script, as a command line: 'dotnet pwsh.dll' for the local tool, else pwsh itself.
function Get-PwshCommand {
    $process = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') {
        return @($process, (Join-Path $PSHOME 'pwsh.dll'))
    }
    return @($process)
}

function Get-NuGetPackagesFolder {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = @(& dotnet nuget locals global-packages --list) -match 'global-packages:' | Select-Object -First 1
    return ($line -replace '^.*global-packages:\s*', '').Trim()
}

function Invoke-Clean {
    foreach ($folder in @($Out) + (Get-ChildItem $Root -Directory -Recurse -Include bin, obj -ErrorAction SilentlyContinue).FullName) {
        if (Test-Path $folder) { Remove-Item -LiteralPath $folder -Recurse -Force }
    }
}

function Invoke-Build {
    Invoke-Native dotnet @('build', (Join-Path $Root 'Kalbio.PowerShell.sln'), '-c', $Configuration, '--nologo', '-v', 'quiet', '-clp:NoSummary;ErrorsOnly')

    if (Test-Path $ModuleOut) { Remove-Item -LiteralPath $ModuleOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $ModuleOut -Force
    $binaries = Join-Path $ModuleProject "bin/$Configuration/netstandard2.0"
    # The module's own assembly and its dependency closure; PowerShell supplies System.Management.Automation. The CSV
    # library goes to Dependencies/, where only the module's resolver loads it (in a load context of its own).
    $private = @('Sylvan.Data.Csv.dll')
    Get-ChildItem -LiteralPath $binaries -Filter *.dll |
        Where-Object { $_.Name -ne 'System.Management.Automation.dll' -and $_.Name -notin $private } |
        Copy-Item -Destination $ModuleOut
    $dependencies = New-Item -ItemType Directory -Path (Join-Path $ModuleOut 'Dependencies')
    $private | ForEach-Object { Copy-Item -LiteralPath (Join-Path $binaries $_) -Destination $dependencies }
    Copy-ReadyToRun -Binaries $binaries -Private $private
    Copy-Item -LiteralPath (Join-Path $Root 'Kalbio.psd1') -Destination $ModuleOut
    Get-ChildItem -LiteralPath $ModuleProject -Filter *.ps1xml | Copy-Item -Destination $ModuleOut
    Build-Help

    if (Test-Path $SandboxOut) { Remove-Item -LiteralPath $SandboxOut -Recurse -Force }
    Copy-Item -LiteralPath (Join-Path $SandboxProject "bin/$Configuration/net10.0") -Destination $SandboxOut -Recurse

    $manifest = Test-ModuleManifest -Path (Join-Path $ModuleOut 'Kalbio.psd1')
    Write-Host "Built $($manifest.Name) $($manifest.Version) in $ModuleOut"
}

# The module's assemblies precompiled for this machine's runtime (tools/ReadyToRun), over the IL-only copies: a pwsh
# process then starts using them without compiling them first (a 100,000-row Submit -Path does ~0.1 s less work).
function Copy-ReadyToRun([string] $Binaries, [string[]] $Private) {
    $compiled = Join-Path $Out 'readytorun'
    Invoke-Native dotnet @('publish', (Join-Path $Root 'tools/ReadyToRun/ReadyToRun.csproj'), '-c', $Configuration, '-o', $compiled,
        "-p:ModuleBinaries=$Binaries", "-p:PowerShellHome=$PSHOME", '--nologo', '-v', 'quiet', '-clp:NoSummary;ErrorsOnly')
    foreach ($name in 'Kalbio.Core.dll', 'Kalbio.PowerShell.dll') { Copy-Item -LiteralPath (Join-Path $compiled $name) -Destination $ModuleOut -Force }
    foreach ($name in $Private) { Copy-Item -LiteralPath (Join-Path $compiled $name) -Destination (Join-Path $ModuleOut 'Dependencies') -Force }
}

# MAML help from docs/help/*.md; generated in a child pwsh because it imports the built module.
function Build-Help {
    $helpOut = Join-Path $ModuleOut 'en-US'
    $null = New-Item -ItemType Directory -Path $helpOut -Force
    Copy-Item -LiteralPath (Join-Path $HelpSource 'about_Kalbio.help.txt') -Destination $helpOut
    $pwsh = @(Get-PwshCommand)
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File (Join-Path $Root 'tools/New-KalbioHelp.ps1') `
        -ModulePath $ModuleOut -SourcePath $HelpSource -OutputPath (Join-Path $helpOut 'Kalbio.PowerShell.dll-Help.xml')
    if ($LASTEXITCODE -ne 0) { throw "Generating the help failed (exit code $LASTEXITCODE)." }
}

function Invoke-Package {
    Invoke-Build
    $packageOut = Join-Path $Out 'package'
    if (Test-Path $packageOut) { Remove-Item -LiteralPath $packageOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $packageOut
    Compress-PSResource -Path $ModuleOut -DestinationPath $packageOut
    Get-ChildItem -LiteralPath $packageOut -Filter *.nupkg | ForEach-Object { Write-Host "Packaged $($_.FullName)" }
}

function Read-TrxCounts([string] $Path) {
    [xml] $trx = Get-Content -LiteralPath $Path -Raw
    $counters = $trx.TestRun.ResultSummary.Counters
    [pscustomobject]@{
        Passed  = [int] $counters.passed
        Failed  = [int] $counters.failed + [int] $counters.error + [int] $counters.timeout + [int] $counters.aborted
        Skipped = [int] $counters.notExecuted
    }
}

# dotnet format over the solution: -Verify only reports what differs from .editorconfig (and fails on it).
function Invoke-Format([switch] $Verify) {
    $arguments = @('format', (Join-Path $Root 'Kalbio.PowerShell.sln'))
    # Under Test the build has restored the solution already.
    if ($Verify) { $arguments += @('--no-restore', '--verify-no-changes', '--verbosity', 'quiet') }
    & dotnet @arguments
    if ($LASTEXITCODE -ne 0) {
        if ($Verify) { Write-Host 'The C# sources differ from .editorconfig (above); ./build.ps1 -Task Format fixes them.' -ForegroundColor Red }
        return $false
    }
    return $true
}

function Invoke-Test {
    Import-Module (Join-Path $Root 'tools/TestSuites.psm1') -Force
    Invoke-Package
    if (Test-Path $ResultsOut) { Remove-Item -LiteralPath $ResultsOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $ResultsOut
    $totals = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0 }
    $failedSuites = [Collections.Generic.List[string]]::new()

    if (-not $PesterFilter) {
        Write-Host "`n=== style ===" -ForegroundColor Cyan
        if (Invoke-Format -Verify) { Write-Host 'The C# sources follow .editorconfig.' } else { $failedSuites.Add('style') }

        Write-Host "`n=== xunit ===" -ForegroundColor Cyan
        Invoke-XunitSuite -Project $TestProject -Configuration $Configuration -ResultsDirectory $ResultsOut | Out-Host
        if ($LASTEXITCODE -ne 0) { $failedSuites.Add('xunit') }
        $trxPath = Join-Path $ResultsOut 'xunit.trx'
        if (Test-Path $trxPath) {
            $xunit = Read-TrxCounts $trxPath
            foreach ($name in 'Passed', 'Failed', 'Skipped') { $totals[$name] += $xunit.$name }
        } elseif ($failedSuites -notcontains 'xunit') {
            $failedSuites.Add('xunit (no results)')
        }
    }

    Write-Host "`n=== Pester ===" -ForegroundColor Cyan
    $pester = Join-Path (Get-NuGetPackagesFolder) 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $pester)) { throw "Pester 5.7.1 was not restored to $pester; the test project's PackageDownload brings it." }
    $summaryPath = Join-Path $ResultsOut 'pester-summary.json'
    $pwsh = @(Get-PwshCommand)
    $runner = Join-Path $Root 'tests/pester/Invoke-PesterSuite.ps1'
    $arguments = @('-NoProfile', '-NonInteractive', '-File', $runner,
        '-PesterPath', $pester, '-ModulePath', $ModuleOut, '-SandboxPath', (Join-Path $SandboxOut 'Kalbio.Sandbox.dll'),
        '-SummaryPath', $summaryPath, '-ResultPath', (Join-Path $ResultsOut 'pester.xml'),
        '-PackagePath', (Join-Path $Out 'package'))
    if ($PesterFilter) { $arguments += @('-Filter', $PesterFilter) }
    Invoke-PesterSuiteChild -PwshCommand $pwsh -ArgumentList $arguments | Out-Host
    if ($LASTEXITCODE -ne 0) { $failedSuites.Add('Pester') }
    if (Test-Path $summaryPath) {
        $summary = Get-Content -LiteralPath $summaryPath -Raw | ConvertFrom-Json
        foreach ($name in 'Passed', 'Failed', 'Skipped') { $totals[$name] += $summary.$name }
    } elseif ($failedSuites -notcontains 'Pester') {
        $failedSuites.Add('Pester (no results)')
    }

    Write-Host ''
    Write-Host "Total: $($totals.Passed) passed, $($totals.Failed) failed, $($totals.Skipped) skipped"
    if ($failedSuites.Count -gt 0 -or $totals.Failed -gt 0 -or $totals.Passed -eq 0) {
        throw "Tests failed: $(if ($failedSuites.Count) { $failedSuites -join ', ' } else { 'see above' })."
    }
}

function Invoke-Mutation {
    Import-Module (Join-Path $Root 'tools/MutationReport.psm1') -Force
    $configFolder = Join-Path $Root 'tests/mutation'
    $config = Get-Content -LiteralPath (Join-Path $configFolder 'stryker-config.json') -Raw | ConvertFrom-Json
    $output = Join-Path $Out 'mutation'
    if (Test-Path $output) { Remove-Item -LiteralPath $output -Recurse -Force }
    $arguments = @('stryker', '--config-file', 'stryker-config.json', '--output', $output)
    foreach ($filter in $MutateFilter) {
        $glob = if ($filter -match '[*/\\]') { $filter } else { "**/$([IO.Path]::ChangeExtension($filter, '.cs'))" }
        $arguments += @('--mutate', $glob)
    }

    $clock = [Diagnostics.Stopwatch]::StartNew()
    Push-Location $configFolder
    try { Invoke-Native dotnet $arguments }
    finally {
        Pop-Location
        # Stryker swaps a mutated Kalbio.Core.dll into the test project's Debug output, keeping the original beside it
        # (and leaving that copy even after a normal run); put the original back, so that after an interrupted run a
        # later Debug test run never tests a mutant.
        foreach ($backup in Get-ChildItem -Path (Join-Path $TestProject 'bin') -Recurse -Filter '*.stryker-unchanged' -ErrorAction SilentlyContinue) {
            Move-Item -LiteralPath $backup.FullName -Destination ($backup.FullName -replace '\.stryker-unchanged$', '') -Force
        }
    }
    $clock.Stop()

    $report = Join-Path $output 'reports/mutation-report.json'
    Show-MutationReport -ReportPath $report -SourceRoot (Join-Path $Root 'src/Kalbio.Core') | Out-Host
    $files = @(Get-MutationFileScore -ReportPath $report -RelativeTo (Join-Path $Root 'src/Kalbio.Core'))
    if ($files.Count -eq 0) { throw "The mutation report $report names no file: does -MutateFilter match a file in tests/mutation/stryker-config.json's scope?" }
    $total = Get-MutationTotal -Files $files
    Write-Host ("Mutation run: {0:mm\:ss} (mm:ss). Reports: {1}" -f $clock.Elapsed, (Join-Path $output 'reports/mutation-report.html'))

    $perFileBar = $config.'stryker-config'.thresholds.low
    $overallBar = $config.'stryker-config'.thresholds.high
    $below = @($files | Where-Object { $null -ne $_.Score -and $_.Score -lt $perFileBar })
    if ($below.Count -gt 0 -or ($null -ne $total.Score -and $total.Score -lt $overallBar)) {
        throw "Mutation score below the bar ($overallBar % over the scope, $perFileBar % in each file): $(if ($below.Count) { ($below.File -join ', ') } else { "all files $($total.Score) %" })."
    }
}

function Invoke-Sandbox {
    Invoke-Build
    $arguments = @((Join-Path $SandboxOut 'Kalbio.Sandbox.dll'), '--port', $Port, '--seed-demo', '--guide')
    if ($WebhookUrl) { $arguments += @('--webhook-url', $WebhookUrl, '--send-demo-event') }
    Invoke-Native dotnet $arguments
}

function Invoke-Demo {
    Invoke-Build
    & (Join-Path $Root 'tools/Invoke-Demo.ps1') -ModulePath $ModuleOut -SandboxPath (Join-Path $SandboxOut 'Kalbio.Sandbox.dll')
}

foreach ($name in $Task) {
    switch ($name) {
        'Clean' { Invoke-Clean }
        'Build' { Invoke-Build }
        'Test' { Invoke-Test }
        'Format' { if (-not (Invoke-Format)) { throw 'dotnet format failed (above).' } }
        'Sandbox' { Invoke-Sandbox }
        'Demo' { Invoke-Demo }
        'Package' { Invoke-Package }
        'Mutation' { Invoke-Mutation }
    }
}
