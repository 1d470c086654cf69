#Requires -Version 7.4
<#
.SYNOPSIS
    Receive-KalWebhookEvent's memory under stalled connections, and the latency a spool adds to a delivery.
.DESCRIPTION
    Each measurement runs the listener in a fresh `pwsh -NoProfile` child (the built module imported), talking to it over
    127.0.0.1 only, and reads the child's memory from /proc/<pid>/status (Linux).

      Memory   -MaximumBodySize 256MB: after one warm-up delivery, -Connections connections each send a head declaring
               a 256 MiB body plus 1 KiB of it, then stall. Prints the child's RSS and peak RSS (VmHWM) before and
               after. The promise: peak RSS moves by no more than 64 MiB (a listener that allocated from the declared
               length would need 16 GiB).
      Latency  -Deliveries deliveries, one after another, each a new connection (the listener answers Connection:
               close), to a listener whose pipeline is `ForEach-Object { }`: without a spool (the 202 waits for the
               pipeline) and with -SpoolPath (the 202 waits for the event to be written and flushed to disk). Prints
               the median and 90th percentile of each and the median difference. The spool folder is under -SpoolRoot
               (the temp folder by default): put it on the disk you mean to use.
.EXAMPLE
    dotnet pwsh ./bench/Webhook-Intake.Benchmark.ps1
.EXAMPLE
    dotnet pwsh -c "& ./bench/Webhook-Intake.Benchmark.ps1 -Mode Latency -Deliveries 500"
#>
[CmdletBinding()]
param(
    [ValidateSet('Memory', 'Latency')] [string[]] $Mode = @('Memory', 'Latency'),
    [int] $Connections = 64,
    [int] $Deliveries = 200,
    [string] $SpoolRoot = [IO.Path]::GetTempPath(),
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/Kalbio')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
if (-not (Test-Path /proc/self/status)) { throw 'This benchmark reads /proc/<pid>/status; run it on Linux.' }
$ModulePath = (Resolve-Path $ModulePath).Path
$body = '{"event_type":"registration_submitted","operation_id":"op-1","file_id":"f-1","file_name":"f-1.csv","record_ids":["r1"]}'

function Get-FreePort {
    $probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $probe.Start()
    try { $probe.LocalEndpoint.Port } finally { $probe.Stop() }
}

function Start-Listener([string] $Parameters) {
    $port = Get-FreePort
    $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
    if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
    foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', "Import-Module '$ModulePath'; Receive-KalWebhookEvent -Port $port -Path /hooks $Parameters | ForEach-Object { }") {
        $start.ArgumentList.Add($argument)
    }
    $start.RedirectStandardOutput = $true
    $start.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($start)
    while ($true) {
        $line = $process.StandardOutput.ReadLine()
        if ($null -eq $line) { throw 'The listener ended before it listened.' }
        if ($line -like 'Listening for webhook events*') { break }
    }
    [pscustomobject]@{ Process = $process; Port = $port }
}

function Stop-Listener($Listener) {
    if (-not $Listener.Process.HasExited) { $Listener.Process.Kill() }
    $Listener.Process.WaitForExit()
    $Listener.Process.Dispose()
}

function Get-MemoryMiB([int] $ProcessId) {
    $status = Get-Content -LiteralPath "/proc/$ProcessId/status"
    $read = { param($name) [double](($status | Where-Object { $_ -like "${name}:*" }) -replace '[^0-9]', '') / 1024 }
    [pscustomobject]@{ Rss = & $read 'VmRSS'; Peak = & $read 'VmHWM' }
}

$handler = [Net.Http.SocketsHttpHandler]::new()
$handler.UseProxy = $false
$http = [Net.Http.HttpClient]::new($handler)

function Send-Delivery([int] $Port) {
    $answer = $http.PostAsync("http://127.0.0.1:$Port/hooks", [Net.Http.StringContent]::new($body, [Text.Encoding]::UTF8, 'application/json')).GetAwaiter().GetResult()
    if ([int]$answer.StatusCode -ne 202) { throw "A delivery was answered $([int]$answer.StatusCode)." }
    $answer.Dispose()
}

function Get-Percentile([double[]] $Values, [double] $Fraction) {
    $sorted = $Values | Sort-Object
    $sorted[[Math]::Min($sorted.Count - 1, [int][Math]::Floor($Fraction * $sorted.Count))]
}

try {
    if ($Mode -contains 'Memory') {
        $listener = Start-Listener "-MaximumBodySize 256MB -MaximumConnectionsPerAddress $Connections"
        $sockets = [Collections.Generic.List[Net.Sockets.TcpClient]]::new()
        try {
            Send-Delivery $listener.Port
            Start-Sleep -Seconds 2
            $before = Get-MemoryMiB $listener.Process.Id
            $declared = 256MB
            $head = [Text.Encoding]::ASCII.GetBytes("POST /hooks HTTP/1.1`r`nHost: 127.0.0.1`r`nContent-Type: application/json`r`nContent-Length: $declared`r`n`r`n")
            $part = [byte[]]::new(1KB)
            for ($i = 0; $i -lt $Connections; $i++) {
                $client = [Net.Sockets.TcpClient]::new()
                $client.Connect([Net.IPAddress]::Loopback, $listener.Port)
                $client.GetStream().Write($head, 0, $head.Length)
                $client.GetStream().Write($part, 0, $part.Length)
                $sockets.Add($client)
            }
            Start-Sleep -Seconds 3
            $after = Get-MemoryMiB $listener.Process.Id
            $sockets | ForEach-Object { $_.Dispose() }
            Start-Sleep -Milliseconds 500
            $stillServing = try { Send-Delivery $listener.Port; 'yes' } catch { "no ($_)" }
            '{0} connections each declaring {1} MiB and stalling after 1 KiB of body:' -f $Connections, ($declared / 1MB)
            '  RSS      before {0,8:N1} MiB   after {1,8:N1} MiB   change {2,7:N1} MiB' -f $before.Rss, $after.Rss, ($after.Rss - $before.Rss)
            '  peak RSS before {0,8:N1} MiB   after {1,8:N1} MiB   change {2,7:N1} MiB (promise: at most 64 MiB)' -f $before.Peak, $after.Peak, ($after.Peak - $before.Peak)
            "  once they leave, a good delivery is answered 202: $stillServing"
        } finally {
            $sockets | ForEach-Object { $_.Dispose() }
            Stop-Listener $listener
        }
    }

    if ($Mode -contains 'Latency') {
        $spool = Join-Path $SpoolRoot "kalbio-bench-spool-$PID"
        $results = [ordered]@{}
        foreach ($case in @(@{ Name = 'no spool'; Parameters = '' }, @{ Name = 'spool'; Parameters = "-SpoolPath '$spool'" })) {
            $listener = Start-Listener $case.Parameters
            try {
                for ($i = 0; $i -lt 20; $i++) { Send-Delivery $listener.Port }
                $times = [double[]]::new($Deliveries)
                $watch = [Diagnostics.Stopwatch]::new()
                for ($i = 0; $i -lt $Deliveries; $i++) {
                    $watch.Restart()
                    Send-Delivery $listener.Port
                    $times[$i] = $watch.Elapsed.TotalMilliseconds
                }
                $results[$case.Name] = $times
            } finally {
                Stop-Listener $listener
            }
        }
        Remove-Item -LiteralPath $spool -Recurse -Force -ErrorAction SilentlyContinue
        "$Deliveries deliveries one after another (after 20 to warm up), spool under $SpoolRoot ($((& df --output=fstype $SpoolRoot 2>$null | Select-Object -Last 1)) file system):"
        foreach ($name in $results.Keys) {
            '  {0,-8}  median {1,6:N2} ms   p90 {2,6:N2} ms' -f $name, (Get-Percentile $results[$name] 0.5), (Get-Percentile $results[$name] 0.9)
        }
        '  the spool adds {0:N2} ms to the median delivery' -f ((Get-Percentile $results['spool'] 0.5) - (Get-Percentile $results['no spool'] 0.5))
    }
} finally {
    $http.Dispose()
}
