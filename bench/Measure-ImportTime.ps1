<#
.SYNOPSIS
    Measures what Import-Module Kalbio adds to a bare pwsh -NoProfile start, side by side.
.DESCRIPTION
    Starts pwsh alternately with and without the import (so machine noise hits both alike), several
    rounds, and prints the medians and the difference. Build first: dotnet pwsh ./build.ps1 -Task Build.
.EXAMPLE
    dotnet pwsh ./bench/Measure-ImportTime.ps1 -Rounds 15
#>
param(
    [int] $Rounds = 11,
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/Kalbio')
)

$ErrorActionPreference = 'Stop'
$modulePath = (Resolve-Path $ModulePath).Path
$pwsh = @([Environment]::ProcessPath)
if ([IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }

function Measure-Start([string] $Command) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $Command
    if ($LASTEXITCODE -ne 0) { throw "pwsh failed: $Command" }
    $watch.Elapsed.TotalMilliseconds
}

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    $sorted[[int][math]::Floor($sorted.Count / 2)]
}

$bare = [Collections.Generic.List[double]]::new()
$imported = [Collections.Generic.List[double]]::new()
$null = Measure-Start 'exit'  # warm the disk cache once
for ($round = 1; $round -le $Rounds; $round++) {
    $bare.Add((Measure-Start 'exit'))
    $imported.Add((Measure-Start "Import-Module '$modulePath'; exit"))
}

$bareMedian = Get-Median $bare
$importedMedian = Get-Median $imported
[pscustomobject]@{
    Rounds                 = $Rounds
    'BareStart(ms)'        = [math]::Round($bareMedian)
    'WithImport(ms)'       = [math]::Round($importedMedian)
    'ImportAdds(ms)'       = [math]::Round($importedMedian - $bareMedian)
} | Format-List
