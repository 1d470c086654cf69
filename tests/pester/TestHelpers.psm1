# Shared by the Pester tests: start and drive the sandbox, import the built module.
Set-StrictMode -Version Latest

function Import-KalbioUnderTest {
    Import-Module $env:KALBIO_TEST_MODULE -Global -Force -ErrorAction Stop
}

<#
.SYNOPSIS
    Starts the sandbox on a free loopback port; it exits by itself if this process dies (stdin closes).
#>
function Start-TestSandbox {
    param([string[]] $ArgumentList = @())
    $start = [Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($argument in @($env:KALBIO_TEST_SANDBOX, '--port', '0', '--exit-on-stdin-close') + $ArgumentList) {
        $start.ArgumentList.Add($argument)
    }
    $start.RedirectStandardInput = $true
    $start.RedirectStandardOutput = $true
    $start.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($start)
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ([DateTime]::UtcNow -lt $deadline) {
        $line = $process.StandardOutput.ReadLine()
        if ($null -eq $line) { break }
        if ($line -match '^KALBIO_SANDBOX_URL=(.+)$') {
            return [pscustomobject]@{ Uri = $Matches[1]; Process = $process; ClientId = 'sandbox-client'; ClientSecret = 'sandbox-secret' }
        }
    }
    $process.Kill()
    throw 'The sandbox did not report its URL within 30 s.'
}

function Stop-TestSandbox {
    param([Parameter(Mandatory)] $Sandbox)
    if (-not $Sandbox.Process.HasExited) {
        $Sandbox.Process.StandardInput.Close()
        if (-not $Sandbox.Process.WaitForExit(5000)) { $Sandbox.Process.Kill() }
    }
    $Sandbox.Process.Dispose()
}

<#
.SYNOPSIS
    Calls the sandbox's control plane (/_sandbox/...), e.g. Invoke-Sandbox $sb POST reset.
#>
function Invoke-Sandbox {
    param(
        [Parameter(Mandatory, Position = 0)] $Sandbox,
        [Parameter(Mandatory, Position = 1)] [string] $Method,
        [Parameter(Mandatory, Position = 2)] [string] $Path,
        [Parameter(Position = 3)] $Body
    )
    $parameters = @{ Method = $Method; Uri = "$($Sandbox.Uri)/_sandbox/$Path"; ErrorAction = 'Stop' }
    if ($null -ne $Body) {
        $parameters.Body = $Body | ConvertTo-Json -Depth 20 -Compress
        $parameters.ContentType = 'application/json'
    }
    # Invoke-RestMethod writes a JSON array as one object; enumerate it so callers can pipe and count.
    Invoke-RestMethod @parameters | ForEach-Object { $_ }
}

function New-TestSecret {
    param([string] $Text = 'sandbox-secret')
    ConvertTo-SecureString -String $Text -AsPlainText -Force
}

function Connect-TestSandbox {
    param([Parameter(Mandatory)] $Sandbox, [switch] $PassThru, [hashtable] $Extra = @{})
    Connect-KalApi -ClientId $Sandbox.ClientId -ClientSecret (New-TestSecret $Sandbox.ClientSecret) -BaseUri $Sandbox.Uri -PassThru:$PassThru -ErrorAction Stop @Extra
}

<#
.SYNOPSIS
    Runs a script in a fresh pwsh (this same PowerShell, or the executable -PwshPath), with extra environment
    variables; returns its output lines and throws when it fails.
#>
function Invoke-ChildPwsh {
    param([Parameter(Mandatory)] [string] $Script, [string[]] $ArgumentList = @(), [hashtable] $Environment = @{}, [string] $WorkingDirectory = $PWD.ProviderPath,
        [string] $PwshPath)
    $start = [Diagnostics.ProcessStartInfo]::new($(if ($PwshPath) { $PwshPath } else { [Environment]::ProcessPath }))
    if (-not $PwshPath -and [IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
        $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
    }
    $scriptFile = Join-Path ([IO.Path]::GetTempPath()) "kalbio-child-$([guid]::NewGuid()).ps1"
    Set-Content -LiteralPath $scriptFile -Value $Script
    foreach ($argument in @('-NoProfile', '-NonInteractive', '-File', $scriptFile) + $ArgumentList) { $start.ArgumentList.Add($argument) }
    foreach ($name in $Environment.Keys) { $start.Environment[$name] = $Environment[$name] }
    $start.Environment['NO_COLOR'] = '1'
    $start.WorkingDirectory = $WorkingDirectory
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $process = [Diagnostics.Process]::Start($start)
    $errorTask = $process.StandardError.ReadToEndAsync()
    $output = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    Remove-Item -LiteralPath $scriptFile -ErrorAction SilentlyContinue
    if ($process.ExitCode -ne 0) { throw "The child pwsh failed ($($process.ExitCode)): $output $($errorTask.Result)" }
    $output -split "`r?`n" | Where-Object { $_ }
}

<#
.SYNOPSIS
    True when something accepts TCP connections on 127.0.0.1:Port. A connection whose own port is Port does not
    count: Linux lets a connect to a port nobody listens on meet itself when the source port happens to be the same.
#>
function Test-LocalPortListening {
    param([Parameter(Mandatory)] [int] $Port)
    $client = [Net.Sockets.TcpClient]::new()
    try {
        $client.Connect([Net.IPAddress]::Loopback, $Port)
        return $client.Client.LocalEndPoint.Port -ne $Port
    } catch [Net.Sockets.SocketException] {
        return $false
    } finally {
        $client.Dispose()
    }
}

<#
.SYNOPSIS
    Runs a command in a fresh pwsh (this same PowerShell) without waiting for it; its output is read in the
    background (so it never blocks on a full pipe) into the returned object's Output and Errors tasks.
#>
function Start-ChildPwsh {
    param([Parameter(Mandatory)] [string] $Command, [hashtable] $Environment = @{})
    $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
    if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
        $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
    }
    foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', $Command) { $start.ArgumentList.Add($argument) }
    foreach ($name in $Environment.Keys) { $start.Environment[$name] = $Environment[$name] }
    $start.Environment['NO_COLOR'] = '1'
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $process = [Diagnostics.Process]::Start($start)
    [pscustomobject]@{ Process = $process; Output = $process.StandardOutput.ReadToEndAsync(); Errors = $process.StandardError.ReadToEndAsync() }
}

<#
.SYNOPSIS
    A TCP port on 127.0.0.1 that was free a moment ago.
#>
function Get-FreePort {
    $probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $probe.Start()
    try { $probe.LocalEndpoint.Port } finally { $probe.Stop() }
}

Export-ModuleMember -Function Start-ChildPwsh, Test-LocalPortListening, Invoke-ChildPwsh, Import-KalbioUnderTest, Start-TestSandbox,
    Stop-TestSandbox, Invoke-Sandbox, New-TestSecret, Connect-TestSandbox, Get-FreePort
