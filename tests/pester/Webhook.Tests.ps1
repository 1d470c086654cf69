BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox

    # Receive-KalWebhookEvent in another runspace of this process, as a user's background job would run it.
    function Start-Receiver([string] $Parameters) {
        $shell = [powershell]::Create()
        $null = $shell.AddScript("Import-Module '$env:KALBIO_TEST_MODULE'; Receive-KalWebhookEvent $Parameters")
        $handle = $shell.BeginInvoke()
        [pscustomobject]@{ Shell = $shell; Handle = $handle }
    }

    function Wait-Listening([int] $Port, $Receiver) {
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ([DateTime]::UtcNow -lt $deadline) {
            if ($Receiver.Handle.IsCompleted) { throw "The receiver ended early: $($Receiver.Shell.Streams.Error.ReadAll())" }
            if (Test-LocalPortListening $Port) { return }
            Start-Sleep -Milliseconds 50
        }
        throw "Nothing listened on port $Port."
    }
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'ConvertFrom-KalWebhookEvent' {
    It 'reads an event piped line by line, as Get-Content sends it' {
        $path = Join-Path $TestDrive 'event.json'
        @{ event_type = 'registration_submitted'; data = @{ operation_id = 'op-1'; file_id = 'f1'; file_name = 'a.csv'; record_ids = @('r1', 'r2') } } |
            ConvertTo-Json | Set-Content -LiteralPath $path

        $event = Get-Content -LiteralPath $path | ConvertFrom-KalWebhookEvent

        $event | Should -BeOfType Kalbio.PowerShell.Model.RegistrationEvent
        $event.EventType | Should -Be 'registration_submitted'
        $event.OperationId | Should -Be 'op-1'
        $event.FileId | Should -Be 'f1'
        $event.FileName | Should -Be 'a.csv'
        $event.RecordIds | Should -Be @('r1', 'r2')
    }

    It 'reads objects parsed by ConvertFrom-Json, with or without -AsHashtable, ignoring unknown fields' {
        $json = '{"operation_id":"op-1","file_id":"f1","file_url":"https://storage.example.org/x?sig=a%2Fb","activity_id":"act-1","unknown":{"deep":[1,2]}}'

        $fromObject = $json | ConvertFrom-Json | ConvertFrom-KalWebhookEvent
        $fromHashtable = $json | ConvertFrom-Json -AsHashtable | ConvertFrom-KalWebhookEvent

        foreach ($event in $fromObject, $fromHashtable) {
            $event.FileId | Should -Be 'f1'
            $event.ActivityId | Should -Be 'act-1'
            $event.FileUrl | Should -Be 'https://storage.example.org/x?sig=a%2Fb'
        }
    }

    It 'writes a non-terminating error for <Case> and goes on with the next input' -TestCases @(
        @{ Case = 'malformed JSON'; Json = '{"operation_id": "op-1", "file_id": }'; ErrorId = 'InvalidWebhookEventJson' }
        @{ Case = 'a missing file id'; Json = '{"operation_id": "op-1", "data": {"file_name": "a.csv"}}'; ErrorId = 'WebhookEventMissingField' }
        @{ Case = 'a missing operation id'; Json = '{"file_id": "f1"}'; ErrorId = 'WebhookEventMissingField' }
        @{ Case = 'record ids that are not a list'; Json = '{"operation_id":"o","file_id":"f","record_ids":{"a":1}}'; ErrorId = 'InvalidWebhookEvent' }
    ) {
        $events = $Json, '{"operation_id":"op-2","file_id":"f2"}' | ConvertFrom-KalWebhookEvent -ErrorVariable failures -ErrorAction SilentlyContinue

        $events.FileId | Should -Be 'f2'
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be "$ErrorId,Kalbio.PowerShell.Commands.ConvertFromKalWebhookEventCommand"
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidData'
    }

    It 'reports text that ends in the middle of an event when the input ends' {
        $events = '{"operation_id":"op-1",', '"file_id":"f1"' | ConvertFrom-KalWebhookEvent -ErrorVariable failures -ErrorAction SilentlyContinue

        $events | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidWebhookEventJson,Kalbio.PowerShell.Commands.ConvertFromKalWebhookEventCommand'
        "$($failures[0])" | Should -BeLike '*not valid JSON*'
    }

    It 'shows events in a table with Format-Table' {
        $text = '{"event_type":"registration_submitted","operation_id":"op-1","file_id":"f1","file_name":"a.csv","record_ids":["r1","r2","r3"]}' |
            ConvertFrom-KalWebhookEvent | Format-Table | Out-String -Width 120

        $text | Should -Match 'EventType\s+OperationId\s+FileId\s+FileName\s+RecordCount'
        $text | Should -Match 'registration_submitted\s+op-1\s+f1\s+a\.csv\s+3'
    }
}

Describe 'Events piped into the other cmdlets' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = 'f1'; file_name = 'compounds.csv'; activity_id = 'act-1'; content = "record_id`nr1`n" } | Out-Null
        Connect-TestSandbox $script:Sandbox
    }

    It 'binds by property name into Get-KalFile (file url, name, activity) and the registration cmdlets' {
        $event = "{`"data`":{`"operation_id`":`"op-1`",`"file_id`":`"f1`",`"file_name`":`"../../compounds.csv`",`"activity_id`":`"act-1`",`"file_url`":`"$($script:Sandbox.Uri)/activities/act-1/file/f1`"}}" |
            ConvertFrom-KalWebhookEvent

        $file = $event | Get-KalFile -Destination $TestDrive
        $registration = $event | Register-KalFile
        $event | Set-KalRegistrationStatus -Status validated
        $state = $event | Get-KalRegistration

        $file.FullName | Should -Be (Join-Path $TestDrive 'compounds.csv')
        Get-Content -LiteralPath $file.FullName | Should -Be @('record_id', 'r1')
        (Invoke-Sandbox $script:Sandbox GET requests | Where-Object method -EQ GET | Select-Object -First 1).path | Should -Be '/activities/act-1/file/f1'
        $registration.FileId | Should -Be 'f1'
        $state.Status | Should -Be 'validated'
    }
}

Describe 'Receive-KalWebhookEvent with the sandbox sending' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = 'f1'; file_name = 'compounds.csv'; content = "record_id`nr1`nr2`n"; record_ids = @('r1', 'r2') } | Out-Null
        Connect-TestSandbox $script:Sandbox
        $script:Port = Get-FreePort
    }

    AfterEach {
        if ($script:Receiver) {
            if (-not $script:Receiver.Handle.IsCompleted) { $script:Receiver.Shell.Stop() }
            $script:Receiver.Shell.Dispose()
            $script:Receiver = $null
        }
    }

    It 'receives the event the sandbox sends when a file is registered, with the shared secret header' {
        Invoke-Sandbox $script:Sandbox POST config @{ webhook_url = "http://127.0.0.1:$($script:Port)/kaleidoscope/events"; webhook_headers = @{ 'X-Webhook-Secret' = 'pester-secret' } } | Out-Null
        $script:Receiver = Start-Receiver "-Port $($script:Port) -Path /kaleidoscope/events -RequiredHeader @{ 'X-Webhook-Secret' = 'pester-secret' } -Count 1 -TimeoutSec 60"
        Wait-Listening $script:Port $script:Receiver

        Register-KalFile -OperationId op-1 -FileId f1 | Out-Null
        $events = $script:Receiver.Shell.EndInvoke($script:Receiver.Handle)

        $events | Should -HaveCount 1
        $events[0].EventType | Should -Be 'registration_submitted'
        $events[0].OperationId | Should -Be 'op-1'
        $events[0].FileId | Should -Be 'f1'
        $events[0].FileName | Should -Be 'compounds.csv'
        $events[0].FileUrl | Should -Be "$($script:Sandbox.Uri)/files/f1"
        $events[0].RecordIds | Should -Be @('r1', 'r2')
        (Invoke-Sandbox $script:Sandbox GET webhooks).status | Should -Be 202
    }

    It "the sandbox waits timeout_seconds for a listener's answer, then reports the delivery as timed out" {
        # A socket that accepts and never answers: the sandbox must give up after the time it was given.
        $silent = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $silent.Start()
        try {
            $url = "http://127.0.0.1:$($silent.LocalEndpoint.Port)/"
            $timedOut = { Invoke-Sandbox $script:Sandbox POST webhooks/send @{ operation_id = 'op-1'; file_id = 'f1'; url = $url; timeout_seconds = 1 } } |
                Should -Throw -PassThru
            $timedOut.Exception.Response.StatusCode | Should -Be 502
            $timedOut.ErrorDetails.Message | Should -BeLike '*timed out after 1 s*'
            $refused = { Invoke-Sandbox $script:Sandbox POST webhooks/send @{ operation_id = 'op-1'; file_id = 'f1'; url = $url; timeout_seconds = 0 } } |
                Should -Throw -PassThru
            $refused.Exception.Response.StatusCode | Should -Be 400
            $refused.ErrorDetails.Message | Should -BeLike '*timeout_seconds must be more than 0*'
        } finally {
            $silent.Stop()
        }
    }

    It 'answers 401 to a delivery without the secret and keeps listening' {
        Invoke-Sandbox $script:Sandbox POST config @{ webhook_url = "http://127.0.0.1:$($script:Port)/" } | Out-Null
        $script:Receiver = Start-Receiver "-Port $($script:Port) -RequiredHeader @{ 'X-Webhook-Secret' = 'pester-secret' } -TimeoutSec 60"
        Wait-Listening $script:Port $script:Receiver

        $sent = Invoke-Sandbox $script:Sandbox POST webhooks/send @{ operation_id = 'op-1'; file_id = 'f1' }

        $sent.status | Should -Be 401
        # The warning reaches the stream when the pipeline thread next drains the listener's messages.
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ($script:Receiver.Shell.Streams.Warning.Count -eq 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        $script:Receiver.Handle.IsCompleted | Should -BeFalse
        $script:Receiver.Shell.Streams.Warning.ReadAll().Message | Should -BeLike "*'X-Webhook-Secret' is missing or has the wrong value*"
    }
}
