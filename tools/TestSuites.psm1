# The two test suites as build.ps1 -Task Test runs them, shaped for the log: failures with their errors and one
# summary per suite, not a line per passed test. Each returns its log lines; the caller shows them.
Set-StrictMode -Version Latest

function Invoke-XunitSuite {
    param(
        [Parameter(Mandatory)] [string] $Project,
        [Parameter(Mandatory)] [string] $Configuration,
        [Parameter(Mandatory)] [string] $ResultsDirectory,
        [string] $TrxName = 'xunit.trx',
        # A dotnet test --filter expression, to run part of the suite.
        [string] $Filter
    )
    $arguments = @('test', $Project, '-c', $Configuration, '--no-build', '--nologo', '--results-directory', $ResultsDirectory,
        '--logger', "trx;LogFileName=$TrxName", '--logger', 'console;verbosity=minimal')
    if ($Filter) { $arguments += @('--filter', $Filter) }
    & dotnet @arguments
}

# Runs tests/pester/Invoke-PesterSuite.ps1 in a child pwsh ($PwshCommand: the executable, then any arguments before
# the script's own). The child prints what Pester reports; the "What if:" lines that cmdlets under test write straight
# to the host when a test uses -WhatIf are left out, as they are no test's result.
function Invoke-PesterSuiteChild {
    param([Parameter(Mandatory)] [string[]] $PwshCommand, [Parameter(Mandatory)] [string[]] $ArgumentList)
    & $PwshCommand[0] @($PwshCommand | Select-Object -Skip 1) @ArgumentList | Where-Object { $_ -notmatch '^What if: ' }
}

Export-ModuleMember -Function Invoke-XunitSuite, Invoke-PesterSuiteChild
