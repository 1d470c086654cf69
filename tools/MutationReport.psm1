# Reads Stryker.NET's JSON report (the mutation-testing-elements schema) into one row per mutated file, and the
# mutants behind them, for build.ps1 -Task Mutation.
Set-StrictMode -Version Latest

# Killed and timed-out mutants were detected; survivors and mutants no test reached were not. Mutants that did not
# compile, or that were ignored (by mutator kind, or as equivalent with a "Stryker disable" comment giving the
# reason), are no test's business and do not count.
$script:Detected = 'Killed', 'Timeout'
$script:Undetected = 'Survived', 'NoCoverage'

function Get-MutationScore {
    param([int] $Detected, [int] $Undetected)
    if ($Detected + $Undetected -eq 0) { return $null }
    return [math]::Round(100.0 * $Detected / ($Detected + $Undetected), 1)
}

# One row per file: its counts and score. $RelativeTo shortens the paths.
function Get-MutationFileScore {
    param([Parameter(Mandatory)] [string] $ReportPath, [string] $RelativeTo)
    $report = Get-Content -LiteralPath $ReportPath -Raw | ConvertFrom-Json -AsHashtable
    foreach ($path in ($report.files.Keys | Sort-Object)) {
        $mutants = @($report.files[$path].mutants)
        $count = { param($statuses) @($mutants | Where-Object { $_.status -in $statuses }).Count }
        $killed = & $count @('Killed')
        $timeout = & $count @('Timeout')
        $survived = & $count @('Survived')
        $noCoverage = & $count @('NoCoverage')
        $name = if ($RelativeTo) { [IO.Path]::GetRelativePath($RelativeTo, $path) } else { $path }
        [pscustomobject]@{
            File       = $name
            Killed     = $killed
            Timeout    = $timeout
            Survived   = $survived
            NoCoverage = $noCoverage
            Ignored    = & $count @('Ignored')
            Score      = Get-MutationScore -Detected ($killed + $timeout) -Undetected ($survived + $noCoverage)
        }
    }
}

# The mutants of one status or more, with the line they change and what they change it to.
function Get-MutationMutant {
    param([Parameter(Mandatory)] [string] $ReportPath, [Parameter(Mandatory)] [string[]] $Status, [string] $RelativeTo)
    $report = Get-Content -LiteralPath $ReportPath -Raw | ConvertFrom-Json -AsHashtable
    foreach ($path in ($report.files.Keys | Sort-Object)) {
        $lines = $report.files[$path].source -split "`r?`n"
        $name = if ($RelativeTo) { [IO.Path]::GetRelativePath($RelativeTo, $path) } else { $path }
        foreach ($mutant in @($report.files[$path].mutants | Where-Object { $_.status -in $Status })) {
            $line = [int] $mutant.location.start.line
            [pscustomobject]@{
                File        = $name
                Line        = $line
                Status      = $mutant.status
                Mutator     = $mutant.mutatorName
                Code        = $lines[$line - 1].Trim()
                Replacement = $mutant['replacement']
                Reason      = $mutant['statusReason']
            }
        }
    }
}

# The whole run as one row, for the bar the scope must clear.
function Get-MutationTotal {
    param([Parameter(Mandatory)] [object[]] $Files)
    $sum = { param($property) ($Files | Measure-Object -Property $property -Sum).Sum }
    [pscustomobject]@{
        File       = 'all files'
        Killed     = & $sum Killed
        Timeout    = & $sum Timeout
        Survived   = & $sum Survived
        NoCoverage = & $sum NoCoverage
        Ignored    = & $sum Ignored
        Score      = Get-MutationScore -Detected ((& $sum Killed) + (& $sum Timeout)) -Undetected ((& $sum Survived) + (& $sum NoCoverage))
    }
}

Export-ModuleMember -Function Get-MutationFileScore, Get-MutationMutant, Get-MutationTotal, Get-MutationScore
