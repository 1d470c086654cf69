BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox

    function Get-ApiRequest {
        @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -NE '/auth/oauth/token')
    }

    # Results are posted by hand here: these tests are about the lifecycle cmdlets, not Submit-KalRegistrationResult.
    function Send-RawResult([string] $OperationId, [string] $FileId, [string] $Json) {
        $token = Invoke-RestMethod -Method Post -Uri "$($script:Sandbox.Uri)/auth/oauth/token" -Body @{
            grant_type = 'client_credentials'; client_id = $script:Sandbox.ClientId; client_secret = $script:Sandbox.ClientSecret }
        Invoke-RestMethod -Method Post -Uri "$($script:Sandbox.Uri)/operations/$OperationId/register/$FileId/results" -ContentType 'application/json' `
            -Headers @{ 'X-Kal-Authorization' = "Bearer $($token.access_token)" } -Body $Json | Out-Null
    }
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'The registration lifecycle cmdlets' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        foreach ($id in 'f1', 'f2') {
            Invoke-Sandbox $script:Sandbox POST files @{ file_id = $id; content = "record_id`nr1`nr2`n" } | Out-Null
        }
        Connect-TestSandbox $script:Sandbox -Extra @{ RetryIntervalSec = 0 }
    }

    Context 'Register-KalFile' {
        It 'registers a file and returns a typed registration file' {
            $registration = Register-KalFile -OperationId op-1 -FileId f1

            $registration | Should -BeOfType Kalbio.PowerShell.Model.RegistrationFile
            $registration.OperationId | Should -Be 'op-1'
            $registration.FileId | Should -Be 'f1'
            $registration.Status | Should -Be 'pending'
            $registration.CreatedBy | Should -Be 'sandbox-client'
            $request = Get-ApiRequest | Select-Object -Last 1
            $request.method | Should -Be 'POST'
            $request.path | Should -Be '/operations/op-1/register/f1'
            $request.body | Should -Be '{}'
        }

        It 'registers each piped item by property name, writing an error for a missing file and going on' {
            $items = @(
                [pscustomobject]@{ operation_id = 'op-1'; file_id = 'f1' }
                [pscustomobject]@{ operation_id = 'op-1'; file_id = 'missing' }
                [pscustomobject]@{ OperationId = 'op-2'; FileId = 'f2' }
            )

            $registrations = $items | Register-KalFile -ErrorVariable failures -ErrorAction SilentlyContinue

            $registrations.FileId | Should -Be @('f1', 'f2')
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'KalFileNotFound,Kalbio.PowerShell.Commands.RegisterKalFileCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failures[0].TargetObject | Should -Be 'missing'
            "$($failures[0])" | Should -BeLike "*File 'missing' not found*"
        }

        It 'sends nothing under -WhatIf, nor for an id that looks like a path' {
            Register-KalFile -OperationId op-1 -FileId f1 -WhatIf
            Register-KalFile -OperationId op-1 -FileId '../f1' -ErrorVariable failures -ErrorAction SilentlyContinue

            $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidId,Kalbio.PowerShell.Commands.RegisterKalFileCommand'
            Get-ApiRequest | Should -BeNullOrEmpty
        }
    }

    Context 'Get-KalRegistration' {
        It 'lists the registrations of an operation with their record errors' {
            Register-KalFile op-1 f1 | Out-Null
            Register-KalFile op-1 f2 | Out-Null
            Send-RawResult op-1 f1 '{"status":"success","message":"2 records","records":[{"record_id":"r1","status":"matched"},{"record_id":"r2","status":"not_found","error_message":"Unknown compound"}]}'

            $registrations = Get-KalRegistration -OperationId op-1

            $registrations | Should -HaveCount 2
            $registrations[0].Status | Should -Be 'completed'
            $registrations[0].Message | Should -Be '2 records'
            $registrations[0].RecordErrors | Should -HaveCount 1
            $registrations[0].RecordErrors[0].SourceRecordId | Should -Be 'r2'
            $registrations[0].RecordErrors[0].Status | Should -Be 'not_found'
            $registrations[0].RecordErrors[0].ErrorMessage | Should -Be 'Unknown compound'
            $registrations[1].Status | Should -Be 'pending'
            $registrations[1].RecordErrors | Should -HaveCount 0
        }

        It 'shows the registrations in a table grouped by operation, with the record error count' {
            Register-KalFile op-1 f1 | Out-Null
            Send-RawResult op-1 f1 '{"status":"error","message":"Registry offline","records":[{"record_id":"r1","status":"error","error_message":"Registry offline"}]}'

            $text = Get-KalRegistration op-1 | Out-String -Width 120

            $text | Should -Match 'Operation: op-1'
            $text | Should -Match 'FileId\s+Status\s+RecordErrors\s+Message'
            $text | Should -Match 'f1\s+failed\s+1 Registry offline'
            ((Get-KalRegistration op-1).RecordErrors | Out-String) | Should -Match 'r1\s+error\s+Registry offline'
        }

        It 'takes the legacy error_message when message is null' {
            Invoke-Sandbox $script:Sandbox POST faults @{ path_prefix = '/operations/op-9/registrations'; status = 200
                body = '[{"id":"1","operation_id":"op-9","file_id":"f1","status":"failed","message":null,"error_message":"Legacy reason"}]' } | Out-Null

            (Get-KalRegistration op-9).Message | Should -Be 'Legacy reason'
        }

        It 'filters by -FileId and -Status, and says when the file is not registered' {
            Register-KalFile op-1 f1 | Out-Null
            Register-KalFile op-1 f2 | Out-Null
            Set-KalRegistrationStatus op-1 f2 -Status validated

            (Get-KalRegistration op-1 -FileId f2).Status | Should -Be 'validated'
            (Get-KalRegistration op-1 -Status validated, failed).FileId | Should -Be 'f2'
            Get-KalRegistration op-1 -FileId nope -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $failures[0].FullyQualifiedErrorId | Should -Be 'KalRegistrationNotFound,Kalbio.PowerShell.Commands.GetKalRegistrationCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            "$($failures[0])" | Should -BeLike "*File 'nope' is not registered in operation 'op-1' (2 registrations found there)*"
        }
    }

    Context 'Set-KalRegistrationStatus' {
        BeforeEach { Register-KalFile op-1 f1 | Out-Null }

        It 'sends the status, and the message only when given' {
            Set-KalRegistrationStatus -OperationId op-1 -FileId f1 -Status validated
            Set-KalRegistrationStatus -OperationId op-1 -FileId f1 -Status validation_failed -Message 'Column smiles is missing'

            $bodies = (Get-ApiRequest | Where-Object path -EQ '/operations/op-1/registration_files/f1/status').body
            $bodies | Should -Be @('{"status":"validated"}', '{"status":"validation_failed","message":"Column smiles is missing"}')
            $registration = Get-KalRegistration op-1 -FileId f1
            $registration.Status | Should -Be 'validation_failed'
            $registration.Message | Should -Be 'Column smiles is missing'
        }

        It 'takes the ids from a piped registration and writes the new state with -PassThru' {
            $updated = Get-KalRegistration op-1 | Set-KalRegistrationStatus -Status VALIDATED -PassThru

            $updated | Should -BeOfType Kalbio.PowerShell.Model.RegistrationFile
            $updated.Status | Should -Be 'validated'
        }

        It 'refuses a status outside the lifecycle, naming the valid ones, before sending anything' {
            Invoke-Sandbox $script:Sandbox DELETE requests | Out-Null

            $thrown = { Set-KalRegistrationStatus op-1 f1 -Status approved } | Should -Throw -PassThru

            $thrown.FullyQualifiedErrorId | Should -Be 'ParameterArgumentValidationError,Kalbio.PowerShell.Commands.SetKalRegistrationStatusCommand'
            $thrown.Exception.Message | Should -BeLike '*"pending,validated,validation_failed,submitted,completed,failed"*'
            Get-ApiRequest | Should -BeNullOrEmpty
        }

        It 'refuses a message or an id with a lone surrogate before sending anything, rather than sending U+FFFD' {
            Invoke-Sandbox $script:Sandbox DELETE requests | Out-Null

            Set-KalRegistrationStatus op-1 f1 -Status validation_failed -Message "Column $([char]0xD800) is missing" -ErrorVariable failures -ErrorAction SilentlyContinue
            Set-KalRegistrationStatus op-1 "f1$([char]0xDC00)" -Status validated -ErrorVariable +failures -ErrorAction SilentlyContinue

            $failures.FullyQualifiedErrorId | Should -Be @('UnsupportedJsonValue,Kalbio.PowerShell.Commands.SetKalRegistrationStatusCommand', 'InvalidId,Kalbio.PowerShell.Commands.SetKalRegistrationStatusCommand')
            $failures[0].Exception.Message | Should -BeExactly 'The message is not valid Unicode (it has a lone surrogate character at index 7) and cannot be sent as JSON.'
            $failures[1].Exception.Message | Should -BeLike 'FileId is not valid Unicode (it has a lone surrogate character at index 2)*'
            Get-ApiRequest | Should -BeNullOrEmpty
            (Get-KalRegistration op-1 -FileId f1).Status | Should -Be 'pending'
        }

        It 'tab-completes the lifecycle states' {
            $line = 'Set-KalRegistrationStatus op-1 f1 -Status valid'
            $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText

            $completions | Should -Be @('validated', 'validation_failed')
        }

        It 'sends nothing under -WhatIf' {
            Invoke-Sandbox $script:Sandbox DELETE requests | Out-Null

            Set-KalRegistrationStatus op-1 f1 -Status validated -WhatIf

            Get-ApiRequest | Should -BeNullOrEmpty
            (Get-KalRegistration op-1 -FileId f1).Status | Should -Be 'pending'
        }

        It 'reports a file that is not registered as not found, with the server message' {
            Set-KalRegistrationStatus op-1 nope -Status validated -ErrorVariable failures -ErrorAction SilentlyContinue

            $failures[0].FullyQualifiedErrorId | Should -Be 'KalRegistrationNotFound,Kalbio.PowerShell.Commands.SetKalRegistrationStatusCommand'
            "$($failures[0])" | Should -BeLike "*Registration of file 'nope' in operation 'op-1' not found*"
        }
    }
}
