BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'The built module' {
    It 'has a valid manifest' {
        $manifest = Test-ModuleManifest -Path (Join-Path $env:KALBIO_TEST_MODULE 'Kalbio.psd1')
        $manifest.Name | Should -Be 'Kalbio'
        $manifest.PowerShellVersion | Should -Be ([version] '7.4')
        $manifest.CompatiblePSEditions | Should -Be @('Core')
    }

    It 'exports exactly the cmdlets the assembly defines, listed explicitly' {
        $data = Import-PowerShellDataFile -Path (Join-Path $env:KALBIO_TEST_MODULE 'Kalbio.psd1')
        $data.CmdletsToExport | Should -Not -Contain '*'
        $data.FunctionsToExport.Count | Should -Be 0
        $data.AliasesToExport.Count | Should -Be 0
        $assembly = [Kalbio.PowerShell.Commands.KalCmdlet].Assembly
        $defined = $assembly.GetExportedTypes() |
            ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object { '{0}-{1}' -f $_.VerbName, $_.NounName }
        ($data.CmdletsToExport | Sort-Object) | Should -Be ($defined | Sort-Object)
        ((Get-Command -Module Kalbio).Name | Sort-Object) | Should -Be ($defined | Sort-Object)
    }

    It 'keeps the type names 0.1 published, and makes public only what users see' {
        # Users catch the exceptions and test the output types by these names; format views select on them.
        $published = @(
            'Kalbio.PowerShell.Client.KalApiException', 'Kalbio.PowerShell.Client.KalErrorKind',
            'Kalbio.PowerShell.Client.KalInputException', 'Kalbio.PowerShell.Model.KalRecordData',
            'Kalbio.PowerShell.Model.KalRecordResult', 'Kalbio.PowerShell.Model.KalResultSubmission',
            'Kalbio.PowerShell.Model.RegistrationEvent', 'Kalbio.PowerShell.Model.RegistrationFile',
            'Kalbio.PowerShell.Model.RegistrationRecordError')
        # In a fresh session, before any cmdlet has run: the core comes with the module.
        $script = "Import-Module '$env:KALBIO_TEST_MODULE'; " + '[Kalbio.PowerShell.Client.KalApiException].Assembly.GetExportedTypes().FullName'
        $core = @(Invoke-ChildPwsh -Script $script)
        ($core | Sort-Object) | Should -Be ($published | Sort-Object)
        [Kalbio.PowerShell.Client.KalConnection].Assembly.GetName().Name | Should -Be 'Kalbio.PowerShell'
    }

    It 'does not ship System.Management.Automation' {
        Join-Path $env:KALBIO_TEST_MODULE 'System.Management.Automation.dll' | Should -Not -Exist
    }

    It 'ships its assemblies precompiled (ReadyToRun), and pwsh runs that code rather than compiling the IL' {
        $assemblies = 'Kalbio.Core.dll', 'Kalbio.PowerShell.dll', 'Dependencies/Sylvan.Data.Csv.dll'
        foreach ($name in $assemblies) {
            $stream = [IO.File]::OpenRead((Join-Path $env:KALBIO_TEST_MODULE $name))
            try {
                $header = [Reflection.PortableExecutable.PEReader]::new($stream).PEHeaders.CorHeader
                $header.ManagedNativeHeaderDirectory.Size | Should -BeGreaterThan 0 -Because "$name should carry ReadyToRun code"
            } finally { $stream.Dispose() }
        }

        # The same module with the build's IL-only assemblies, against it: how many of the module's methods the JIT
        # compiles for an import and a first use of a cmdlet and the CSV reader (counted from the runtime's events).
        $ilOnly = @(Get-ChildItem -Path (Join-Path $PSScriptRoot '../../src/Kalbio.PowerShell/bin/*/netstandard2.0/Kalbio.Core.dll') |
            Sort-Object LastWriteTime | Select-Object -Last 1)
        if ($ilOnly.Count -eq 0) { Set-ItResult -Inconclusive -Because 'the IL-only build output is not there to compare with'; return }
        $plain = Join-Path $TestDrive 'il/Kalbio'
        $null = New-Item -ItemType Directory -Path (Split-Path $plain)
        Copy-Item -LiteralPath $env:KALBIO_TEST_MODULE -Destination $plain -Recurse
        foreach ($name in $assemblies) { Copy-Item -LiteralPath (Join-Path $ilOnly[0].DirectoryName (Split-Path $name -Leaf)) -Destination (Join-Path $plain $name) -Force }
        $csv = Join-Path $TestDrive 'results.csv'
        Set-Content -LiteralPath $csv -Value 'record_id,status,name', 'r1,matched,a', 'r2,created,b'
        $script = @'
param($Module, $Csv)
Add-Type -TypeDefinition @"
using System; using System.Diagnostics.Tracing; using System.Threading;
public sealed class KalbioJitCounter : EventListener {
    public int Count;
    protected override void OnEventSourceCreated(EventSource source) {
        // 0x10: the JIT keyword, whose MethodJittingStarted event names each method as it is compiled.
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x10);
    }
    protected override void OnEventWritten(EventWrittenEventArgs e) {
        if (e.EventName == "MethodJittingStarted_V1" && e.Payload != null && e.Payload.Count > 4 && e.Payload[4] is string type && type.StartsWith("Kalbio.", StringComparison.Ordinal)) Interlocked.Increment(ref Count);
    }
}
"@
$counter = [KalbioJitCounter]::new()
Import-Module $Module
$null = Submit-KalRegistrationResult -OperationId op -FileId file -Path $Csv -WhatIf 6>$null
$counter.Count
'@
        $jitted = foreach ($module in $env:KALBIO_TEST_MODULE, $plain) {
            [int] (Invoke-ChildPwsh -Script $script -ArgumentList $module, $csv | Select-Object -Last 1)
        }
        $jitted[1] | Should -BeGreaterThan 50 -Because 'the IL-only module compiles its methods on first use'
        $jitted[0] | Should -BeLessThan ($jitted[1] / 4) -Because "the precompiled module JITs $($jitted[0]) of its methods, the IL one $($jitted[1])"
    }

    It "binds to PowerShell's own System.Text.Json, not a copy in the module folder" {
        $location = [System.Text.Json.JsonSerializer].Assembly.Location
        $location | Should -Not -BeLike "$env:KALBIO_TEST_MODULE*"
    }
}

Describe 'Connect-KalApi' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
    }

    It 'connects with -ClientId and -ClientSecret, obtaining a token at once' {
        $connection = Connect-TestSandbox $script:Sandbox -PassThru
        $connection.ClientId | Should -Be 'sandbox-client'
        $connection.BaseUri | Should -Be "$($script:Sandbox.Uri)/"
        $connection.TokenExpiresAt | Should -BeGreaterThan ([DateTimeOffset]::Now.AddMinutes(50))
        (Invoke-Sandbox $script:Sandbox GET grants).client_credentials | Should -Be 1
        (Get-KalConnection).ClientId | Should -Be 'sandbox-client'
    }

    It 'connects with a PSCredential whose user name is the client id' {
        $credential = [pscredential]::new('sandbox-client', (New-TestSecret))
        Connect-KalApi -Credential $credential -BaseUri $script:Sandbox.Uri
        (Get-KalConnection).ClientId | Should -Be 'sandbox-client'
        (Invoke-Sandbox $script:Sandbox GET grants).client_credentials | Should -Be 1
    }

    It 'connects from the KALEIDOSCOPE_API_* environment variables when given no credentials' {
        try {
            $env:KALEIDOSCOPE_API_CLIENT_ID = 'sandbox-client'
            $env:KALEIDOSCOPE_API_CLIENT_SECRET = 'sandbox-secret'
            $env:KALEIDOSCOPE_API_URL = $script:Sandbox.Uri
            Connect-KalApi
            (Get-KalConnection).BaseUri | Should -Be "$($script:Sandbox.Uri)/"
            (Invoke-Sandbox $script:Sandbox GET grants).client_credentials | Should -Be 1
        } finally {
            Remove-Item Env:KALEIDOSCOPE_API_CLIENT_ID, Env:KALEIDOSCOPE_API_CLIENT_SECRET, Env:KALEIDOSCOPE_API_URL -ErrorAction SilentlyContinue
        }
    }

    It 'fails at connect with a clear authentication error for a wrong secret, naming the client but not the secret' {
        $thrown = { Connect-KalApi -ClientId 'sandbox-client' -ClientSecret (New-TestSecret 'wrong-secret-value') -BaseUri $script:Sandbox.Uri } |
            Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'KalAuthenticationFailed,Kalbio.PowerShell.Commands.ConnectKalApiCommand'
        $thrown.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $thrown.Exception.Message | Should -BeLike "*refused the client credentials for client id 'sandbox-client'*"
        $thrown.ErrorDetails.RecommendedAction | Should -Be 'Check the client id and secret, then run Connect-KalApi again.'
        "$thrown" | Should -Not -BeLike '*Check the client id*' -Because 'the recommendation is not repeated in the message'
        "$thrown $($thrown.Exception) $($thrown.ErrorDetails)" | Should -Not -BeLike '*wrong-secret-value*'
        Get-KalConnection | Should -BeNullOrEmpty
    }

    It 'keeps the previous connection when a new connect fails' {
        Connect-TestSandbox $script:Sandbox
        { Connect-KalApi -ClientId 'nobody' -ClientSecret (New-TestSecret 'nope-nope') -BaseUri $script:Sandbox.Uri } | Should -Throw
        (Get-KalConnection).ClientId | Should -Be 'sandbox-client'
    }

    It 'says what is missing when there are no credentials at all' {
        $thrown = { Connect-KalApi } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'MissingCredentials,Kalbio.PowerShell.Commands.ConnectKalApiCommand'
        $thrown.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $thrown.Exception.Message | Should -BeLike '*KALEIDOSCOPE_API_CLIENT_ID*'
    }

    It 'rejects a base URI that is <Case> before sending anything' -TestCases @(
        @{ Case = 'not a URI'; BaseUri = 'not a uri' }
        @{ Case = 'relative'; BaseUri = '/api' }
        @{ Case = 'ftp'; BaseUri = 'ftp://127.0.0.1/' }
        @{ Case = 'carrying a query'; BaseUri = 'http://127.0.0.1:1/?x=1' }
    ) {
        $thrown = { Connect-KalApi -ClientId a -ClientSecret (New-TestSecret) -BaseUri $BaseUri } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'InvalidBaseUri,Kalbio.PowerShell.Commands.ConnectKalApiCommand'
        $thrown.CategoryInfo.Category | Should -Be 'InvalidArgument'
        @(Invoke-Sandbox $script:Sandbox GET requests).Count | Should -Be 0
    }

    Context 'a server that cannot be reached' {
        BeforeAll {
            # A loopback port nobody listens on: connection refused, at once.
            $probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
            $probe.Start(); $script:ClosedUri = "http://127.0.0.1:$($probe.LocalEndpoint.Port)"; $probe.Stop()
        }

        It 'names the base URI given with -BaseUri, the number of attempts, and recommends the sandbox address' {
            $thrown = { Connect-KalApi -ClientId c -ClientSecret (New-TestSecret) -BaseUri $script:ClosedUri -MaximumRetryCount 2 -RetryIntervalSec 0 } |
                Should -Throw -PassThru

            $thrown.FullyQualifiedErrorId | Should -Be 'KalConnectionFailed,Kalbio.PowerShell.Commands.ConnectKalApiCommand'
            $thrown.CategoryInfo.Category | Should -Be 'ConnectionError'
            $thrown.Exception.Attempts | Should -Be 3
            $message = "$thrown"
            $message | Should -BeLike "*could not reach the server at $script:ClosedUri/ after 3 attempts*"
            $message | Should -BeLike '*the base URI was given with -BaseUri*'
            $thrown.ErrorDetails.RecommendedAction | Should -BeLike '*-BaseUri http://127.0.0.1:5080*'
            $message | Should -Not -BeLike '*127.0.0.1:5080*' -Because 'the recommendation is not repeated in the message'
        }

        It 'names KALEIDOSCOPE_API_URL when the base URI came from it' {
            $saved = $env:KALEIDOSCOPE_API_URL
            try {
                $env:KALEIDOSCOPE_API_URL = $script:ClosedUri
                $thrown = { Connect-KalApi -ClientId c -ClientSecret (New-TestSecret) -MaximumRetryCount 0 } | Should -Throw -PassThru
            } finally {
                $env:KALEIDOSCOPE_API_URL = $saved
            }

            "$thrown" | Should -BeLike "*could not reach the server at $script:ClosedUri/ after 1 attempt (*"
            "$thrown" | Should -BeLike '*the base URI comes from KALEIDOSCOPE_API_URL*'
        }
    }

    It 'sends -AdditionalHeader with the token request' {
        Connect-TestSandbox $script:Sandbox -Extra @{ AdditionalHeader = @{ 'Authorization' = 'Bearer proxy-token-123'; 'X-Request-Source' = 'pester' } }
        $tokenRequest = @(Invoke-Sandbox $script:Sandbox GET requests) | Where-Object path -EQ '/auth/oauth/token' | Select-Object -First 1
        $tokenRequest.headers.authorization | Should -Be 'Bearer proxy-token-123'
        $tokenRequest.headers.'x-request-source' | Should -Be 'pester'
        (Get-KalConnection).AdditionalHeaderNames | Sort-Object | Should -Be @('Authorization', 'X-Request-Source')
    }

    It 'never shows the secret or a token in the connection object, its JSON or its display' {
        $connection = Connect-TestSandbox $script:Sandbox -PassThru -Extra @{ AdditionalHeader = @{ Authorization = 'Bearer proxy-token-123' } }
        $tokenBody = (@(Invoke-Sandbox $script:Sandbox GET requests) | Where-Object path -EQ '/auth/oauth/token').body
        $shown = @(
            $connection | ConvertTo-Json -Depth 5
            $connection | Format-List * | Out-String
            $connection | Out-String
            "$connection"
        ) -join "`n"
        $shown | Should -Not -BeLike '*sandbox-secret*'
        $shown | Should -Not -BeLike '*proxy-token-123*'
        $shown | Should -BeLike '*sandbox-client*'
        $tokenBody | Should -BeLike '*client_secret=sandbox-secret*'
    }

    It 'Disconnect-KalApi forgets the current connection' {
        Connect-TestSandbox $script:Sandbox
        Disconnect-KalApi
        Get-KalConnection | Should -BeNullOrEmpty
    }

    It 'keeps the current connection per runspace' {
        Connect-TestSandbox $script:Sandbox
        $other = [powershell]::Create()
        try {
            $null = $other.AddScript("Import-Module '$env:KALBIO_TEST_MODULE'; Get-KalConnection")
            $seen = $other.Invoke()
            $seen.Count | Should -Be 0
            $other.HadErrors | Should -BeFalse
        } finally {
            $other.Dispose()
        }
        (Get-KalConnection).ClientId | Should -Be 'sandbox-client'
    }
}
