#Requires -Version 7.4
<#
.SYNOPSIS
    Whole-process wall time and peak memory of submitting CSV rows as registration results, side by side with the
    Import-Csv floor and the official Python client's way; prints the issue 14 targets table (met or not).
.DESCRIPTION
    Writes a CSV of -Rows rows (record_id, status, id, name, smiles), starts the sandbox, and runs each way in a
    fresh `pwsh -NoProfile -File` child under GNU time (so pwsh start-up, module import and connecting count):

      Floor      Import-Csv | Out-Null (the least anything that starts from Import-Csv can cost)
      Module     Import-Csv | New-KalRecordResult -DataProperty id,name,smiles | Submit-KalRegistrationResult
      Direct     Import-Csv | Submit-KalRegistrationResult -DataProperty id,name,smiles (one cmdlet)
      Path       Submit-KalRegistrationResult -Path results.csv -DataProperty id,name,smiles (no object per row)
      Python     bench/peers/submit_results.py: csv.DictReader, json.dumps, one requests.post (skipped with a
                 notice when no python3 with requests is found)
      BarePwsh   pwsh -NoProfile -c exit; BarePython: python3 -c "import requests" (start-up costs, to compare work)
      ByHand     Import-Csv | ForEach-Object { [ordered]@{...} }, ConvertTo-Json -Depth 5 -Compress, Invoke-RestMethod
                 (not by default)

    The runs are interleaved, -Repeat times each; the medians (and the fastest time) are printed. The sandbox is warmed up
    by one untimed run first. After every submitting run the sandbox's
    record count is checked, and the SHA-256 of each way's body is printed: the module's ways must be identical.
    Needs Linux with GNU time (/usr/bin/time) and a built module (./build.ps1 -Task Build).
.EXAMPLE
    dotnet pwsh ./bench/Submit-Results.Benchmark.ps1
.EXAMPLE
    dotnet pwsh -c "& ./bench/Submit-Results.Benchmark.ps1 -Rows 1000000"

    One million records (about 135 MB of JSON): the body is spooled to a temporary file above 16 MiB, so peak memory
    stays near the floor's.
#>
[CmdletBinding()]
param(
    [int] $Rows = 100000,
    [int] $Repeat = 3,
    [ValidateSet('Floor', 'Module', 'Direct', 'Path', 'Python', 'BarePwsh', 'BarePython', 'ByHand')]
    [string[]] $Mode = @('Floor', 'Module', 'Direct', 'Path', 'Python', 'BarePwsh', 'BarePython'),
    # A python3 that has requests; found on PATH (or /usr/bin/python3) when not given.
    [string] $Python,
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/Kalbio'),
    [string] $SandboxPath = (Join-Path $PSScriptRoot '../out/sandbox/Kalbio.Sandbox.dll')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$time = '/usr/bin/time'
if (-not (Test-Path $time)) { throw "GNU time is needed at $time to measure peak memory (Debian: apt-get install time)." }
$ModulePath = (Resolve-Path $ModulePath).Path
$SandboxPath = (Resolve-Path $SandboxPath).Path
$child = Join-Path $PSScriptRoot 'Submit-Results.Child.ps1'
# @() around the whole if: an if statement's output is unrolled, so a one-element array would become a string.
$pwsh = @(if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
    [Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll')
} else { [Environment]::ProcessPath })

$peer = Join-Path $PSScriptRoot 'peers/submit_results.py'
if ($Mode -contains 'Python' -or $Mode -contains 'BarePython') {
    $Python = @($Python, (Get-Command python3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1 -ExpandProperty Source), '/usr/bin/python3') |
        Where-Object { $_ -and (Test-Path $_) } |
        Where-Object { & $_ -c 'import requests' 2>$null; $LASTEXITCODE -eq 0 } | Select-Object -First 1
    if (-not $Python) {
        Write-Warning 'No python3 with requests was found (try: apt-get install python3-requests); the Python peer is skipped.'
        $Mode = @($Mode | Where-Object { $_ -notin 'Python', 'BarePython' })
    }
}

$work = Join-Path ([IO.Path]::GetTempPath()) "kalbio-bench-$PID"
$null = New-Item -ItemType Directory -Path $work -Force
$csv = Join-Path $work 'results.csv'
$writer = [IO.StreamWriter]::new($csv, $false, [Text.UTF8Encoding]::new($false))
try {
    $writer.WriteLine('record_id,status,id,name,smiles')
    $smiles = 'CC(=O)Oc1ccccc1C(=O)O', 'C[C@@H](N)C(=O)O', 'F/C=C/F', 'c1ccc2c(c1)[nH]c1ccccc12', 'OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O'
    $statuses = 'matched', 'matched', 'matched', 'created', 'not_found'
    for ($i = 0; $i -lt $Rows; $i++) {
        $writer.WriteLine("rec-$i,$($statuses[$i % 5]),CMP-$($i + 100000),Compound $i,$($smiles[$i % 5])")
    }
} finally { $writer.Dispose() }

$start = [Diagnostics.ProcessStartInfo]::new('dotnet')
foreach ($argument in @($SandboxPath, '--port', '0', '--exit-on-stdin-close')) { $start.ArgumentList.Add($argument) }
$start.RedirectStandardInput = $true
$start.RedirectStandardOutput = $true
$sandbox = [Diagnostics.Process]::Start($start)
try {
    $base = $null
    while ($null -ne ($line = $sandbox.StandardOutput.ReadLine())) {
        if ($line -match '^KALBIO_SANDBOX_URL=(.+)$') { $base = $Matches[1]; break }
    }
    if (-not $base) { throw 'The sandbox did not start.' }
    function Invoke-Control([string] $Method, [string] $Path, $Body) {
        $parameters = @{ Method = $Method; Uri = "$base/_sandbox/$Path" }
        if ($Body) { $parameters.Body = $Body | ConvertTo-Json -Compress; $parameters.ContentType = 'application/json' }
        Invoke-RestMethod @parameters -Verbose:$false
    }

    $env:KALEIDOSCOPE_API_URL = $base
    $env:KALEIDOSCOPE_API_CLIENT_ID = 'sandbox-client'
    $env:KALEIDOSCOPE_API_CLIENT_SECRET = 'sandbox-secret'
    $operation = 'op-bench'
    $file = 'file-bench'

    # The server is measured warm: one untimed module run first, so the sandbox's own first-use costs (its JIT)
    # fall on no measured run.
    Invoke-Control POST files @{ file_id = $file; content = 'x' } | Out-Null
    Invoke-Control POST registrations @{ operation_id = $operation; file_id = $file } | Out-Null
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $child -Mode Module -Csv $csv -OperationId $operation -FileId $file -ModulePath $ModulePath
    if ($LASTEXITCODE -ne 0) { throw "The warm-up run failed (exit code $LASTEXITCODE)." }

    $runs = [Collections.Generic.List[object]]::new()
    $hashes = @{}
    for ($round = 1; $round -le $Repeat; $round++) {
        foreach ($way in $Mode) {
            Invoke-Control POST reset | Out-Null
            Invoke-Control POST files @{ file_id = $file; content = 'x' } | Out-Null
            Invoke-Control POST registrations @{ operation_id = $operation; file_id = $file } | Out-Null
            [GC]::Collect()
            $report = Join-Path $work "time-$way-$round.txt"
            $command = switch ($way) {
                'Python' { @($Python, $peer, $csv, $operation, $file) }
                'BarePython' { @($Python, '-c', 'import requests') }
                'BarePwsh' { $pwsh + @('-NoProfile', '-NonInteractive', '-c', 'exit') }
                default {
                    $pwsh + @('-NoProfile', '-NonInteractive', '-File', $child, '-Mode', $way, '-Csv', $csv,
                        '-OperationId', $operation, '-FileId', $file, '-ModulePath', $ModulePath)
                }
            }
            $arguments = @('-f', '%e %M', '-o', $report) + $command
            $clock = [Diagnostics.Stopwatch]::StartNew()
            & $time @arguments
            $clock.Stop()
            if ($LASTEXITCODE -ne 0) { throw "$way run $round failed (exit code $LASTEXITCODE)." }
            $peakKb = [long] ((Get-Content -LiteralPath $report | Select-Object -Last 1) -split ' ')[1]
            if ($way -notin 'Floor', 'BarePwsh', 'BarePython') {
                $submission = @(Invoke-Control GET submissions)
                if ($submission.Count -ne 1 -or $submission[0].record_count -ne $Rows) {
                    throw "$way run $round did not submit $Rows records (the sandbox saw $($submission.Count) submissions)."
                }
                $hashes[$way] = $submission[0].sha256
            }
            $runs.Add([pscustomobject]@{ Mode = $way; Round = $round; Seconds = $clock.Elapsed.TotalSeconds; PeakMB = $peakKb / 1024 })
            Write-Verbose ('{0,-7} run {1}: {2:N2} s, {3:N0} MB' -f $way, $round, $clock.Elapsed.TotalSeconds, ($peakKb / 1024))
        }
    }
} finally {
    if (-not $sandbox.HasExited) { $sandbox.StandardInput.Close(); if (-not $sandbox.WaitForExit(5000)) { $sandbox.Kill() } }
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
    Remove-Item Env:KALEIDOSCOPE_API_URL, Env:KALEIDOSCOPE_API_CLIENT_ID, Env:KALEIDOSCOPE_API_CLIENT_SECRET -ErrorAction SilentlyContinue
}

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    if ($sorted.Count % 2) { $sorted[[int][Math]::Floor($sorted.Count / 2)] } else { ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2 }
}

$summary = foreach ($way in $Mode) {
    $mine = @($runs | Where-Object Mode -EQ $way)
    [pscustomobject]@{
        Mode      = $way
        Seconds   = [Math]::Round((Get-Median $mine.Seconds), 2)
        MinSeconds = [Math]::Round(($mine.Seconds | Measure-Object -Minimum).Minimum, 2)
        PeakMB    = [Math]::Round((Get-Median $mine.PeakMB), 0)
        AllSeconds = ($mine.Seconds | ForEach-Object { $_.ToString('N2') }) -join ' '
    }
}
"Rows: $($Rows.ToString('N0')); runs per way: $Repeat (medians); pwsh $($PSVersionTable.PSVersion); $([Environment]::ProcessorCount) cores"
$summary | Format-Table -AutoSize | Out-String -Width 200
$byName = @{}; foreach ($s in $summary) { $byName[$s.Mode] = $s }
foreach ($way in $hashes.Keys | Sort-Object) { 'Body SHA-256 {0,-7} {1}' -f $way, $hashes[$way] }
$moduleHashes = @($hashes.Keys | Where-Object { $_ -in 'Module', 'Direct', 'Path' } | ForEach-Object { $hashes[$_] } | Select-Object -Unique)
if ($moduleHashes.Count -gt 0) { 'Module, Direct and Path bodies identical: {0}' -f ($moduleHashes.Count -eq 1) }
''

# The issue 14 targets that this run can judge: each with its figure and whether it is met.
function Get-Figure([string] $Name, [string] $Field = 'Seconds') { if ($byName.ContainsKey($Name)) { $byName[$Name].$Field } }
$targets = [Collections.Generic.List[object]]::new()
function Add-Target([string] $Job, [string] $Target, $Figure, [string] $Format, [scriptblock] $Met) {
    if ($null -eq $Figure) { return }
    # A job without a target (no -Met) is shown for comparison only.
    $verdict = if (-not $Met) { '-' } elseif (& $Met $Figure) { 'met' } else { 'NOT met' }
    $targets.Add([pscustomobject]@{ Job = $Job; Target = $Target; Figure = ($Format -f $Figure); Met = $verdict })
}
$size = if ($Rows -ge 1000000) { '1M' } else { "$([Math]::Round($Rows / 1000))k" }
$floor = Get-Figure Floor; $floorPeak = Get-Figure Floor PeakMB
if ($Rows -lt 1000000) {
    if ($floor) {
        Add-Target "$size, Import-Csv | Submit -DataProperty" '<= 1.3x floor' ($(if (Get-Figure Direct) { (Get-Figure Direct) / $floor })) '{0:N2}x' { param($x) $x -le 1.3 }
        Add-Target "$size, Import-Csv | New-KalRecordResult | Submit" 'none (0.1: 1.55x floor)' ($(if (Get-Figure Module) { (Get-Figure Module) / $floor })) '{0:N2}x'
        Add-Target "$size, Submit -Path" 'whole process < floor' ($(if (Get-Figure Path) { (Get-Figure Path) / $floor })) '{0:N2}x' { param($x) $x -lt 1 }
    }
    if ((Get-Figure Path) -and (Get-Figure BarePwsh) -and (Get-Figure Python) -and (Get-Figure BarePython)) {
        $pathWork = (Get-Figure Path) - (Get-Figure BarePwsh); $pythonWork = (Get-Figure Python) - (Get-Figure BarePython)
        Add-Target "$size, Submit -Path work" '<= 1/3 of Python work' ($pathWork / $pythonWork) ('{0:N2}x' + " ($([Math]::Round($pathWork, 2)) s vs $([Math]::Round($pythonWork, 2)) s)") { param($x) $x -le (1 / 3) }
    }
} else {
    if ((Get-Figure Path) -and (Get-Figure Python)) {
        Add-Target "$size, Submit -Path" '>= 3x faster than Python' ((Get-Figure Python) / (Get-Figure Path)) '{0:N2}x' { param($x) $x -ge 3 }
    }
    if ($floorPeak) {
        Add-Target "$size, Submit -Path peak RSS" '<= floor + 64 MiB' ((Get-Figure Path PeakMB) - $floorPeak) '{0:+0;-0} MiB' { param($x) $x -le 64 }
        foreach ($way in 'Direct', 'Module') {
            if (Get-Figure $way) {
                Add-Target "$size, Import-Csv pipeline ($way)" '<= 1.6x floor' ((Get-Figure $way) / $floor) '{0:N2}x' { param($x) $x -le 1.6 }
                Add-Target "$size, Import-Csv pipeline ($way) peak RSS" '<= floor + 64 MiB' ((Get-Figure $way PeakMB) - $floorPeak) '{0:+0;-0} MiB' { param($x) $x -le 64 }
            }
        }
    }
}
if ($byName.ContainsKey('ByHand') -and $byName.ContainsKey('Module')) {
    'ByHand / Module time:       {0:N2}x' -f ($byName.ByHand.Seconds / $byName.Module.Seconds)
}
"Targets (issue 14; Import-Module time: bench/Measure-ImportTime.ps1):"
$targets | Format-Table -AutoSize | Out-String -Width 200
