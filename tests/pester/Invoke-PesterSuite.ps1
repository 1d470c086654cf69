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
    [string] $Filter
)

$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -Force

# The tests find the built module and the sandbox through these; they import the module themselves.
$env:KALBIO_TEST_MODULE = (Resolve-Path $ModulePath).Path
$env:KALBIO_TEST_SANDBOX = (Resolve-Path $SandboxPath).Path
$env:KALBIO_TEST_PACKAGES = (Resolve-Path $PackagePath).Path
# A developer's own credentials must never leak into the tests.
Remove-Item Env:KALEIDOSCOPE_API_CLIENT_ID, Env:KALEIDOSCOPE_API_CLIENT_SECRET, Env:KALEIDOSCOPE_API_URL -ErrorAction SilentlyContinue

$paths = Get-ChildItem -LiteralPath $PSScriptRoot -Filter *.Tests.ps1 |
    Where-Object { -not $Filter -or $_.Name -like "*$Filter*" } |
    ForEach-Object FullName

$configuration = New-PesterConfiguration
$configuration.Run.Path = @($paths)
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Normal'
$configuration.TestResult.Enabled = $true
$configuration.TestResult.OutputPath = $ResultPath
$configuration.TestResult.OutputFormat = 'NUnitXml'

$result = Invoke-Pester -Configuration $configuration
[pscustomobject]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount + $result.NotRunCount
} | ConvertTo-Json | Set-Content -LiteralPath $SummaryPath

exit $(if ($result.Result -eq 'Passed') { 0 } else { 1 })
