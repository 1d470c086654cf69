# Reads Stryker.NET's JSON report (the mutation-testing-elements schema) into one row per mutated file, and the
# mutants behind them, for build.ps1 -Task Mutation.
Set-StrictMode -Version Latest

# Killed and timed-out mutants were detected; survivors and mutants no test reached were not. Mutants that did not
# compile, that Stryker's own filters removed (outside the mutate globs, string literals, blocks already mutated
# whole), or that a "Stryker disable" comment marks as equivalent (the comment's reason is the status reason) are no
# test's business and do not count; the equivalent ones are listed.
$script:FilterReasons = '^Removed by (mutate filter|mutation type filter|block already covered filter)'

# Stryker's status, except that an ignored mutant with a reason of our own is 'Equivalent'.
function Get-MutantStatus($Mutant) {
    if ($Mutant.status -eq 'Ignored' -and $Mutant['statusReason'] -notmatch $script:FilterReasons) { return 'Equivalent' }
    return $Mutant.status
}

function Get-MutationScore {
    param([int] $Detected, [int] $Undetected)
    if ($Detected + $Undetected -eq 0) { return $null }
    return [math]::Round(100.0 * $Detected / ($Detected + $Undetected), 1)
}

# One row per mutated file: its counts and score (files the scope left out are not listed). $RelativeTo shortens
# the paths.
function Get-MutationFileScore {
    param([Parameter(Mandatory)] [string] $ReportPath, [string] $RelativeTo)
    $report = Get-Content -LiteralPath $ReportPath -Raw | ConvertFrom-Json -AsHashtable
    foreach ($path in ($report.files.Keys | Sort-Object)) {
        $statuses = @($report.files[$path].mutants | ForEach-Object { Get-MutantStatus $_ })
        $count = { param($status) @($statuses | Where-Object { $_ -eq $status }).Count }
        $row = [ordered]@{ File = if ($RelativeTo) { [IO.Path]::GetRelativePath($RelativeTo, $path) } else { $path } }
        foreach ($status in 'Killed', 'Timeout', 'Survived', 'NoCoverage', 'Equivalent') { $row[$status] = & $count $status }
        if ($row.Killed + $row.Timeout + $row.Survived + $row.NoCoverage + $row.Equivalent -eq 0) { continue }
        $row.Score = Get-MutationScore -Detected ($row.Killed + $row.Timeout) -Undetected ($row.Survived + $row.NoCoverage)
        [pscustomobject] $row
    }
}

# The mutants of one status or more (Stryker's, or Equivalent), with the line they change and what they change it to.
function Get-MutationMutant {
    param([Parameter(Mandatory)] [string] $ReportPath, [Parameter(Mandatory)] [string[]] $Status, [string] $RelativeTo)
    $report = Get-Content -LiteralPath $ReportPath -Raw | ConvertFrom-Json -AsHashtable
    foreach ($path in ($report.files.Keys | Sort-Object)) {
        $lines = $report.files[$path].source -split "`r?`n"
        $name = if ($RelativeTo) { [IO.Path]::GetRelativePath($RelativeTo, $path) } else { $path }
        foreach ($mutant in @($report.files[$path].mutants | Where-Object { (Get-MutantStatus $_) -in $Status })) {
            $line = [int] $mutant.location.start.line
            [pscustomobject]@{
                File        = $name
                Line        = $line
                Status      = Get-MutantStatus $mutant
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
    $sum = { param($property) [int] ($Files | Measure-Object -Property $property -Sum).Sum }
    [pscustomobject]@{
        File       = 'all files'
        Killed     = & $sum Killed
        Timeout    = & $sum Timeout
        Survived   = & $sum Survived
        NoCoverage = & $sum NoCoverage
        Equivalent = & $sum Equivalent
        Score      = Get-MutationScore -Detected ((& $sum Killed) + (& $sum Timeout)) -Undetected ((& $sum Survived) + (& $sum NoCoverage))
    }
}

# The report as build.ps1 -Task Mutation prints it: the survivors, the equivalent mutants with their reasons, and the
# score per file with the total, as lines of text wide enough not to lose a column in a log.
function Show-MutationReport {
    param([Parameter(Mandatory)] [string] $ReportPath, [Parameter(Mandatory)] [string] $SourceRoot)
    $files = @(Get-MutationFileScore -ReportPath $ReportPath -RelativeTo $SourceRoot)
    '=== survivors (no test noticed these changes) ==='
    foreach ($mutant in Get-MutationMutant -ReportPath $ReportPath -Status Survived, NoCoverage -RelativeTo $SourceRoot) {
        "{0}:{1}  {2}  {3}: {4}  ->  {5}" -f $mutant.File, $mutant.Line, $mutant.Status, $mutant.Mutator, $mutant.Code, $mutant.Replacement
    }
    ''
    '=== equivalent mutants (marked in the source, with the reason) ==='
    foreach ($mutant in Get-MutationMutant -ReportPath $ReportPath -Status Equivalent -RelativeTo $SourceRoot) {
        "{0}:{1}  {2}: {3}" -f $mutant.File, $mutant.Line, $mutant.Mutator, $mutant.Reason
    }
    ''
    '=== mutation score per file (killed + timeout, over those + survived + no coverage) ==='
    @($files) + @(if ($files.Count) { Get-MutationTotal -Files $files }) |
        Format-Table File, Killed, Timeout, Survived, NoCoverage, Equivalent, @{ Name = 'Score %'; Expression = { $_.Score } } -AutoSize |
        Out-String -Width 200
}

Export-ModuleMember -Function Get-MutationFileScore, Get-MutationMutant, Get-MutationTotal, Get-MutationScore, Show-MutationReport
