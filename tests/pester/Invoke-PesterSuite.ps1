<#
.SYNOPSIS
    Runs the Pester tests against the built module; called by build.ps1 in a child pwsh, so the module's
    assembly is loaded fresh for every run.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SandboxPath,
    [Parameter(Mandatory)] [string] $SummaryPath,
    [Parameter(Mandatory)] [string] $ResultPath,
    [Parameter(Mandatory)] [string] $PackagePath,
    [string] $Filter,
    # The folder of *.Tests.ps1 files; this script's own by default.
    [string] $TestPath = $PSScriptRoot
)

$ErrorActionPreference = 'Stop'
# Plain text: escape codes in error messages would make the NUnit report invalid XML.
$PSStyle.OutputRendering = 'PlainText'
$env:NO_COLOR = '1'
Import-Module $PesterPath -Force

# The tests find the built module and the sandbox through these; they import the module themselves.
$env:KALBIO_TEST_MODULE = (Resolve-Path $ModulePath).Path
$env:KALBIO_TEST_SANDBOX = (Resolve-Path $SandboxPath).Path
$env:KALBIO_TEST_PACKAGES = (Resolve-Path $PackagePath).Path
# A developer's own credentials must never leak into the tests.
Remove-Item Env:KALEIDOSCOPE_API_CLIENT_ID, Env:KALEIDOSCOPE_API_CLIENT_SECRET, Env:KALEIDOSCOPE_API_URL -ErrorAction SilentlyContinue

$paths = Get-ChildItem -LiteralPath $TestPath -Filter *.Tests.ps1 |
    Where-Object { -not $Filter -or $_.Name -like "*$Filter*" } |
    ForEach-Object FullName

$configuration = New-PesterConfiguration
$configuration.Run.Path = @($paths)
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Normal'
$configuration.TestResult.Enabled = $true
$configuration.TestResult.OutputPath = $ResultPath
$configuration.TestResult.OutputFormat = 'NUnitXml'

try {
    $result = Invoke-Pester -Configuration $configuration
    $summary = [pscustomobject]@{
        Passed  = $result.PassedCount
        Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
        Skipped = $result.SkippedCount + $result.NotRunCount
    }
    $passed = $result.Result -eq 'Passed'
} catch {
    # Pester itself failed (e.g. writing its report): count it as a failure rather than losing the run.
    Write-Error -ErrorRecord $_ -ErrorAction Continue
    $summary = [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 }
    $passed = $false
}
$summary | ConvertTo-Json | Set-Content -LiteralPath $SummaryPath
exit $(if ($passed) { 0 } else { 1 })
