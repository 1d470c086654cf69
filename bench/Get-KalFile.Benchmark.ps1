#Requires -Version 7.4
<#
.SYNOPSIS
    Download throughput and memory of Get-KalFile, next to Invoke-WebRequest -OutFile and curl.
.DESCRIPTION
    Starts the sandbox from out/sandbox (run ./build.ps1 first), seeds one generated file, and downloads it to a
    tmpfs folder with each contender in turn, rotating the order every round, all timed inside this one pwsh process
    (so no start-up is counted). Invoke-WebRequest and curl send the same X-Kal-Authorization token, obtained from
    the sandbox's token endpoint. Prints MiB/s (median and best) and the ratios.

    Then, on Linux, the peak resident memory (VmHWM) of whole child pwsh processes: one that imports the module and
    connects but downloads nothing, and ones that also download files of two sizes; and how long Stop() (what
    Ctrl+C does) takes to end a download in flight, and whether it left anything behind.

    Figures only: nothing is asserted. The machine's other load shows up in them; compare within one run.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Build; dotnet pwsh ./bench/Get-KalFile.Benchmark.ps1
#>
[CmdletBinding()]
param(
    [int] $SizeMiB = 512,
    [int] $Rounds = 5,
    [string] $Folder = '/dev/shm/kal-bench',
    [int[]] $MemorySizesMiB = @(64, 1024)
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$root = Split-Path $PSScriptRoot
$module = Join-Path $root 'out/Kalbio'
$sandboxDll = Join-Path $root 'out/sandbox/Kalbio.Sandbox.dll'
if (-not (Test-Path $module) -or -not (Test-Path $sandboxDll)) {
    throw "Build first: dotnet pwsh ./build.ps1 -Task Build (expected $module and $sandboxDll)."
}
$curl = Get-Command curl -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
if (-not $curl) { throw 'curl is needed on PATH for the comparison.' }

function Start-Sandbox {
    $start = [Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($argument in $sandboxDll, '--port', '0', '--exit-on-stdin-close') { $start.ArgumentList.Add($argument) }
    $start.RedirectStandardInput = $true
    $start.RedirectStandardOutput = $true
    $process = [Diagnostics.Process]::Start($start)
    while ($null -ne ($line = $process.StandardOutput.ReadLine())) {
        if ($line -match '^KALBIO_SANDBOX_URL=(.+)$') { return [pscustomobject]@{ Uri = $Matches[1]; Process = $process } }
    }
    throw 'The sandbox did not start.'
}

function Invoke-Control([string] $Method, [string] $Path, $Body) {
    $parameters = @{ Method = $Method; Uri = "$($sandbox.Uri)/_sandbox/$Path" }
    if ($null -ne $Body) { $parameters.Body = $Body | ConvertTo-Json -Compress; $parameters.ContentType = 'application/json' }
    Invoke-RestMethod @parameters
}

function Get-PwshCommand {
    $process = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { return @($process, (Join-Path $PSHOME 'pwsh.dll')) }
    return @($process)
}

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    $middle = [math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2) { $sorted[$middle] } else { ($sorted[$middle - 1] + $sorted[$middle]) / 2 }
}

$sandbox = Start-Sandbox
$null = New-Item -ItemType Directory -Path $Folder -Force
try {
    $seeded = Invoke-Control POST files @{ file_id = 'bench'; generated_size = [long] $SizeMiB * 1MB }
    $fileUri = "$($sandbox.Uri)/files/bench"
    Import-Module $module -Force
    Connect-KalApi -ClientId sandbox-client -ClientSecret (ConvertTo-SecureString sandbox-secret -AsPlainText -Force) -BaseUri $sandbox.Uri
    $token = (Invoke-RestMethod -Method Post -Uri "$($sandbox.Uri)/auth/oauth/token" -Body @{
            grant_type = 'client_credentials'; client_id = 'sandbox-client'; client_secret = 'sandbox-secret' }).access_token
    $headers = @{ 'X-Kal-Authorization' = "Bearer $token" }
    # curl reads the header from a file, so the token is not on its command line.
    $headerFile = Join-Path $Folder 'curl-headers'
    Set-Content -LiteralPath $headerFile -Value "X-Kal-Authorization: Bearer $token"

    $target = Join-Path $Folder 'bench'
    $contenders = [ordered]@{
        'Get-KalFile'                  = { $ProgressPreference = 'Continue'; $null = Get-KalFile bench -Destination $Folder }
        'Get-KalFile (no progress)'    = { $ProgressPreference = 'SilentlyContinue'; $null = Get-KalFile bench -Destination $Folder }
        'Invoke-WebRequest'            = { $ProgressPreference = 'Continue'; Invoke-WebRequest -Uri $fileUri -Headers $headers -OutFile $target }
        'Invoke-WebRequest (no progress)' = { $ProgressPreference = 'SilentlyContinue'; Invoke-WebRequest -Uri $fileUri -Headers $headers -OutFile $target }
        'curl'                         = { & $curl.Source -sS -f -H "@$headerFile" -o $target $fileUri; if ($LASTEXITCODE) { throw "curl failed ($LASTEXITCODE)" } }
    }
    $names = @($contenders.Keys)
    $seconds = @{}
    foreach ($name in $names) { $seconds[$name] = [Collections.Generic.List[double]]::new() }

    Write-Host "Downloading $SizeMiB MiB from the sandbox to $Folder, $Rounds rounds, order rotated each round (warm-up round first, not counted)."
    for ($round = 0; $round -le $Rounds; $round++) {
        for ($i = 0; $i -lt $names.Count; $i++) {
            $name = $names[($i + $round) % $names.Count]
            Remove-Item -LiteralPath $target -ErrorAction SilentlyContinue
            [GC]::Collect()
            $clock = [Diagnostics.Stopwatch]::StartNew()
            & $contenders[$name]
            $clock.Stop()
            $length = (Get-Item -LiteralPath $target).Length
            if ($length -ne $seeded.length) { throw "$name saved $length bytes instead of $($seeded.length)." }
            if ($round -gt 0) { $seconds[$name].Add($clock.Elapsed.TotalSeconds) }
        }
    }
    $null = Get-KalFile bench -Destination $Folder
    $hashOk = (Get-FileHash -LiteralPath $target -Algorithm SHA256).Hash -eq $seeded.sha256.ToUpperInvariant()

    $rate = @{}
    $table = foreach ($name in $names) {
        $median = $SizeMiB / (Get-Median $seconds[$name])
        $rate[$name] = $median
        [pscustomobject]@{
            Contender      = $name
            'Median MiB/s' = [math]::Round($median)
            'Best MiB/s'   = [math]::Round($SizeMiB / ($seconds[$name] | Measure-Object -Minimum).Minimum)
            'Seconds'      = ($seconds[$name] | ForEach-Object { $_.ToString('0.00') }) -join ' '
        }
    }
    $table | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
    Write-Host ('Get-KalFile / curl:                              {0:0.00}x  (target >= 0.9)' -f ($rate['Get-KalFile'] / $rate['curl']))
    Write-Host ('Get-KalFile / Invoke-WebRequest:                 {0:0.00}x  (target >= 1.5)' -f ($rate['Get-KalFile'] / $rate['Invoke-WebRequest']))
    Write-Host ('Get-KalFile / Invoke-WebRequest, no progress:    {0:0.00}x' -f ($rate['Get-KalFile (no progress)'] / $rate['Invoke-WebRequest (no progress)']))
    Write-Host ('Get-KalFile progress on / off:                   {0:0.00}x' -f ($rate['Get-KalFile'] / $rate['Get-KalFile (no progress)']))
    Write-Host "SHA-256 of Get-KalFile's copy matches the sandbox: $hashOk"
    # What the sandbox can serve when nothing is written: shows how much of each figure the file write costs.
    $toNull = foreach ($round in 1..$Rounds) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        & $curl.Source -sS -f -H "@$headerFile" -o /dev/null $fileUri
        $clock.Elapsed.TotalSeconds
    }
    Write-Host ('For reference, curl -o /dev/null (no file written): {0:0} MiB/s median' -f ($SizeMiB / (Get-Median $toNull)))
    Remove-Item -LiteralPath $target -ErrorAction SilentlyContinue

    if (Test-Path /proc/self/status) {
        Write-Host "`nPeak resident memory (VmHWM) of a whole child pwsh: import + connect, then the download if any."
        $pwsh = @(Get-PwshCommand)
        $child = {
            param($Module, $Uri, $FileId, $Folder)
            Import-Module $Module
            Connect-KalApi -ClientId sandbox-client -ClientSecret (ConvertTo-SecureString sandbox-secret -AsPlainText -Force) -BaseUri $Uri
            if ($FileId) { $null = Get-KalFile $FileId -Destination $Folder -ProgressAction SilentlyContinue }
            ((Get-Content /proc/self/status) -match '^VmHWM:') -replace '\D+', ''
        }
        $memory = foreach ($size in @(0) + $MemorySizesMiB) {
            $fileId = ''
            if ($size -gt 0) {
                $fileId = "memory-$size"
                $null = Invoke-Control POST files @{ file_id = $fileId; generated_size = [long] $size * 1MB }
            }
            $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes(
                    "& { $child } '$module' '$($sandbox.Uri)' '$fileId' '$Folder'"))
            # Two runs each: a process's peak varies by several MiB from run to run whatever it does.
            $peaks = foreach ($run in 1, 2) {
                $kib = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -EncodedCommand $encoded
                if ($LASTEXITCODE) { throw "The child pwsh failed ($LASTEXITCODE)." }
                if ($fileId) { Remove-Item -LiteralPath (Join-Path $Folder $fileId) }
                [math]::Round([long] ($kib | Select-Object -Last 1) / 1KB)
            }
            [pscustomobject]@{ Run = if ($size) { "Get-KalFile $size MiB" } else { 'empty (import + connect)' }; 'Peak RSS MiB (two runs)' = $peaks -join ', ' }
        }
        $memory | Format-Table -AutoSize | Out-String | Write-Host
    }

    Write-Host 'Stop() (what Ctrl+C does) during a download stalled after 64 MiB:'
    $null = Invoke-Control POST faults @{ path_prefix = '/files/bench'; stall_after_bytes = 64MB }
    $state = [initialsessionstate]::CreateDefault2()
    $state.ImportPSModule($module)
    $runspace = [runspacefactory]::CreateRunspace($state)
    $runspace.Open()
    $shell = [PowerShell]::Create()
    $shell.Runspace = $runspace
    $null = $shell.AddScript('param($Uri, $Folder) Connect-KalApi -ClientId sandbox-client -ClientSecret (ConvertTo-SecureString sandbox-secret -AsPlainText -Force) -BaseUri $Uri; Get-KalFile bench -Destination $Folder -ProgressAction SilentlyContinue').
        AddArgument($sandbox.Uri).AddArgument($Folder)
    $running = $shell.BeginInvoke()
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while (-not (Get-ChildItem -LiteralPath $Folder -Filter '.kal-*.tmp' -Force | Where-Object Length -GE 64MB) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $shell.Stop()
    $clock.Stop()
    $left = @(Get-ChildItem -LiteralPath $Folder -Force | Where-Object Name -NE 'curl-headers')
    Write-Host ('  Stop() returned after {0:N0} ms; state {1}; files left in the folder: {2}' -f $clock.Elapsed.TotalMilliseconds, $shell.InvocationStateInfo.State, $left.Count)
    $shell.Dispose()
    $runspace.Dispose()
} finally {
    Disconnect-KalApi -ErrorAction SilentlyContinue
    $sandbox.Process.StandardInput.Close()
    if (-not $sandbox.Process.WaitForExit(5000)) { $sandbox.Process.Kill() }
    Remove-Item -LiteralPath $Folder -Recurse -Force -ErrorAction SilentlyContinue
}
