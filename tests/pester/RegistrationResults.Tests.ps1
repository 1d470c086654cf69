BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox
    $script:Operation = 'op-7f3a'
    $script:File = 'file-51c2'

    # Every request the API side of the sandbox saw since the last reset (token requests included).
    function Get-ApiRequest { @(Invoke-Sandbox $script:Sandbox GET requests) }
    function Get-ResultsRequest { @(Get-ApiRequest | Where-Object path -Like '/operations/*/results') }
    function Get-SubmittedBody {
        $submissions = @(Invoke-Sandbox $script:Sandbox GET submissions)
        $submissions.Count | Should -Be 1 -Because 'exactly one submission is expected'
        $submissions[0].body
    }

    function Reset-Registration {
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = $script:File; content = "id`n1`n" } | Out-Null
        Invoke-Sandbox $script:Sandbox POST registrations @{ operation_id = $script:Operation; file_id = $script:File } | Out-Null
        Connect-TestSandbox $script:Sandbox
        Invoke-Sandbox $script:Sandbox DELETE requests | Out-Null
    }

    # Runs a submission, collecting its non-terminating errors and the terminating one apart.
    function Invoke-Submission([scriptblock] $Script) {
        $nonTerminating = $null
        $terminating = $null
        try {
            # Dot-sourced, so that -ErrorVariable sets the variable in this scope.
            . $Script -ErrorVariable nonTerminating -ErrorAction SilentlyContinue
        } catch {
            $terminating = $_
        }
        [pscustomobject]@{
            Errors      = @($nonTerminating | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] -and -not [object]::ReferenceEquals($_, $terminating) -and $_.FullyQualifiedErrorId -ne $terminating.FullyQualifiedErrorId })
            Terminating = $terminating
        }
    }
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}


Describe 'Submit-KalRegistrationResult: the JSON body the sandbox receives' {
    BeforeEach { Reset-Registration }

    It 'sends only the status when nothing else is given' {
        Submit-KalRegistrationResult $script:Operation $script:File
        Get-SubmittedBody | Should -BeExactly '{"status":"success"}'
    }

    It 'sends an error with its message as both message and error_message' {
        Submit-KalRegistrationResult -OperationId $script:Operation -FileId $script:File -Status error -Message 'Column "smiles" is missing'
        Get-SubmittedBody | Should -BeExactly '{"status":"error","message":"Column \"smiles\" is missing","error_message":"Column \"smiles\" is missing"}'
        (Invoke-Sandbox $script:Sandbox GET registrations).status | Should -Be 'failed'
    }

    It 'lower-cases the overall status and sends key field names with the records' {
        New-KalRecordResult r1 matched -Data ([ordered]@{ id = 'CMP-1'; name = 'Aspirin' }) |
            Submit-KalRegistrationResult $script:Operation $script:File -Status Success -KeyFieldName id, name
        Get-SubmittedBody | Should -BeExactly '{"status":"success","key_field_names":["id","name"],"records":[{"record_id":"r1","status":"matched","data":{"id":"CMP-1","name":"Aspirin"}}]}'
    }

    It 'keeps the JSON type of every data value, nested to any depth (unlike ConvertTo-Json)' {
        $deep = 'bottom'
        foreach ($level in 1..12) { $deep = @{ level = $deep } }
        $data = [ordered]@{
            text    = 'Aspirin "ASA" ü/é'
            int     = 42
            long    = 9007199254740993L
            double  = 0.1
            decimal = 1.10d
            minus   = -7
            yes     = $true
            no      = $false
            nothing = $null
            date    = [datetime]::new(2024, 5, 6, 7, 8, 9, [DateTimeKind]::Utc)
            offset  = [DateTimeOffset]::new(2024, 5, 6, 7, 8, 9, [TimeSpan]::FromHours(2))
            list    = @(1, 'two', $null, @(3, 4), @{ five = 5 }, @())
            object  = [pscustomobject]@{ a = 1; b = [pscustomobject]@{ c = @([pscustomobject]@{ d = 'e' }) } }
            empty   = @{}
            deep    = $deep
        }
        $records = @(
            New-KalRecordResult r1 created -Data $data
            New-KalRecordResult r2 error -ErrorMessage 'no match in the registry'
        )
        Submit-KalRegistrationResult $script:Operation $script:File -Record $records

        $expectedDeep = ('{"level":' * 12) + '"bottom"' + ('}' * 12)
        $expected = '{"status":"success","records":[' +
            '{"record_id":"r1","status":"created","data":{"text":"Aspirin \"ASA\" ü/é","int":42,"long":9007199254740993,"double":0.1,"decimal":1.10,' +
            '"minus":-7,"yes":true,"no":false,"nothing":null,"date":"2024-05-06T07:08:09Z","offset":"2024-05-06T07:08:09+02:00",' +
            '"list":[1,"two",null,[3,4],{"five":5},[]],"object":{"a":1,"b":{"c":[{"d":"e"}]}},"empty":{},"deep":' + $expectedDeep + '}},' +
            '{"record_id":"r2","status":"error","error_message":"no match in the registry"}]}'
        Get-SubmittedBody | Should -BeExactly $expected
    }

    It 'submits 10,000 rows of Import-Csv | New-KalRecordResult | Submit-KalRegistrationResult in one request' {
        $csv = Join-Path $TestDrive 'results.csv'
        $lines = [Collections.Generic.List[string]]::new()
        $lines.Add('record_id,status,id,name,smiles,error_message')
        $expected = [Text.StringBuilder]::new('{"status":"success","key_field_names":["id"],"records":[')
        for ($i = 0; $i -lt 10000; $i++) {
            $status = if ($i % 10 -eq 9) { 'not_found' } else { 'matched' }
            $message = if ($status -eq 'not_found') { "no compound CMP-$i" } else { '' }
            $lines.Add("rec-$i,$status,CMP-$i,""Compound, $i"",C1=CC=CC=C1C$i,$message")
            if ($i -gt 0) { $null = $expected.Append(',') }
            $null = $expected.Append("{""record_id"":""rec-$i"",""status"":""$status"",""data"":{""id"":""CMP-$i"",""name"":""Compound, $i"",""smiles"":""C1=CC=CC=C1C$i""}")
            if ($message) { $null = $expected.Append(",""error_message"":""$message""") }
            $null = $expected.Append('}')
        }
        $null = $expected.Append(']}')
        Set-Content -LiteralPath $csv -Value $lines

        $summary = Import-Csv -LiteralPath $csv |
            New-KalRecordResult -DataProperty id, name, smiles |
            Submit-KalRegistrationResult $script:Operation $script:File -KeyFieldName id -PassThru

        @(Get-ResultsRequest).Count | Should -Be 1
        $submission = Invoke-Sandbox $script:Sandbox GET submissions
        $submission.record_count | Should -Be 10000
        $submission.body | Should -BeExactly $expected.ToString()
        $summary.RecordCount | Should -Be 10000
        $summary.Bytes | Should -Be $submission.body_length
        $summary.Status | Should -Be 'success'
        $summary.OperationId | Should -Be $script:Operation
        $summary.Elapsed | Should -BeOfType [timespan]
        (Invoke-Sandbox $script:Sandbox GET registrations).record_errors.Count | Should -Be 1000
    }

    It 'submits ConvertFrom-Json records as they are' {
        $json = '[{"record_id":"j1","status":"matched","data":{"x":1.5,"y":[1,"a",null],"z":{"q":false}}},{"record_id":"j2","status":"error","error_message":"bad row"},{"record_id":"j3","status":"not_found","data":null,"error_message":null}]'
        $json | ConvertFrom-Json | Submit-KalRegistrationResult $script:Operation $script:File
        Get-SubmittedBody | Should -BeExactly '{"status":"success","records":[{"record_id":"j1","status":"matched","data":{"x":1.5,"y":[1,"a",null],"z":{"q":false}}},{"record_id":"j2","status":"error","error_message":"bad row"},{"record_id":"j3","status":"not_found"}]}'
    }

    It 'takes hashtables and -Record arrays the same way as the pipeline' {
        $records = @(
            @{ record_id = 'h1'; status = 'matched'; data = [ordered]@{ id = 1 } }
            [ordered]@{ RecordId = 'h2'; Status = 'error'; ErrorMessage = 'no data' }
        )
        Submit-KalRegistrationResult $script:Operation $script:File -Record $records
        Get-SubmittedBody | Should -BeExactly '{"status":"success","records":[{"record_id":"h1","status":"matched","data":{"id":1}},{"record_id":"h2","status":"error","error_message":"no data"}]}'
    }

    It 'accepts results that match -ExpectedRecordId exactly, in any order' {
        'b', 'a' | New-KalRecordResult -Status matched | Submit-KalRegistrationResult $script:Operation $script:File -ExpectedRecordId a, b
        Get-SubmittedBody | Should -BeExactly '{"status":"success","records":[{"record_id":"b","status":"matched"},{"record_id":"a","status":"matched"}]}'
    }

    It 'emits a summary with -PassThru and nothing without it' {
        $quiet = Submit-KalRegistrationResult $script:Operation $script:File
        $quiet | Should -BeNullOrEmpty
        $summary = New-KalRecordResult r1 matched | Submit-KalRegistrationResult $script:Operation $script:File -PassThru
        $summary | Should -BeOfType ([Kalbio.PowerShell.Model.KalResultSubmission])
        $summary.RecordCount | Should -Be 1
        $summary.Bytes | Should -Be ([Text.Encoding]::UTF8.GetByteCount('{"status":"success","records":[{"record_id":"r1","status":"matched"}]}'))
        ($summary | Format-Table | Out-String) | Should -Match 'RecordCount\s+Bytes\s+Elapsed'
    }
}

Describe 'Submit-KalRegistrationResult: validation sends nothing' {
    BeforeEach { Reset-Registration }

    It 'refuses <Case> and sends nothing' -TestCases @(
        @{ Case = 'a duplicate record id'; Records = { @{ record_id = 'r1'; status = 'matched' }, @{ record_id = 'r2'; status = 'matched' }, @{ record_id = 'r1'; status = 'created' } }
            ErrorId = 'DuplicateRecordId'; Message = "records[2] (record_id 'r1') repeats the record_id of records[0]. " }
        @{ Case = 'a record without an id'; Records = { @{ record_id = 'r1'; status = 'matched' }, @{ status = 'matched' } }
            ErrorId = 'RecordIdMissing'; Message = 'records[1] has no record_id. ' }
        @{ Case = 'a record without a status'; Records = { @{ record_id = 'r1'; status = 'matched' }, [pscustomobject]@{ record_id = 'r2'; status = '' } }
            ErrorId = 'RecordStatusMissing'; Message = "records[1] (record_id 'r2') has no status. " }
        @{ Case = 'data that has no JSON form'; Records = { @{ record_id = 'r1'; status = 'matched'; data = @{ calc = { 1 + 1 } } } }
            ErrorId = 'UnsupportedJsonValue'; Message = "records[0] (record_id 'r1'): The value at data.calc is a System.Management.Automation.ScriptBlock and cannot be sent as JSON" }
        @{ Case = 'data that is not an object'; Records = { @{ record_id = 'r1'; status = 'matched'; data = 'CMP-1' } }
            ErrorId = 'RecordDataNotAnObject'; Message = "records[0] (record_id 'r1'): data must be a hashtable or an object with properties" }
        @{ Case = 'a field records do not have'; Records = { [pscustomobject]@{ record_id = 'r1'; status = 'matched'; smiles = 'CCO' } }
            ErrorId = 'RecordFieldUnknown'; Message = "records[0] has a field 'smiles', which a record result does not have" }
        @{ Case = 'something that is not a record'; Records = { 'r1' }
            ErrorId = 'RecordResultUnrecognized'; Message = "records[0] is the text 'r1', not a record result. " }
        @{ Case = 'a lone surrogate in a data value (New-KalRecordResult)'; Records = { New-KalRecordResult -RecordId r1 -Status matched -Data @{ name = "aspirin $([char]0xD800)" } }
            ErrorId = 'UnsupportedJsonValue'; Message = "records[0] (record_id 'r1'): The text at data.name is not valid Unicode (it has a lone surrogate character at index 8) and cannot be sent as JSON." }
        @{ Case = 'a lone low surrogate in a record id'; Records = { @{ record_id = "r$([char]0xDC00)"; status = 'matched' } }
            ErrorId = 'UnsupportedJsonValue'; Message = 'records[0] has a record_id that is not valid Unicode (it has a lone surrogate character at index 1) and cannot be sent as JSON.' }
        @{ Case = 'a reversed pair in an error message'; Records = { @{ record_id = 'r1'; status = 'error'; error_message = "no $([char]0xDC00)$([char]0xD800)" } }
            ErrorId = 'UnsupportedJsonValue'; Message = "records[0] (record_id 'r1') has an error_message that is not valid Unicode (it has a lone surrogate character at index 3) and cannot be sent as JSON." }
        @{ Case = 'a lone surrogate in a data key'; Records = { [pscustomobject]@{ record_id = 'r1'; status = 'matched'; data = [pscustomobject]@{ "na$([char]0xD83D)" = 1 } } }
            ErrorId = 'UnsupportedJsonValue'; Message = "records[0] (record_id 'r1'): The field name at data.na" }
    ) {
        $outcome = Invoke-Submission { $Records.Invoke() | Submit-KalRegistrationResult $script:Operation $script:File @args }

        $outcome.Errors.Count | Should -Be 1
        $outcome.Errors[0].FullyQualifiedErrorId | Should -Be "$ErrorId,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand"
        $outcome.Errors[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $outcome.Errors[0].Exception.Message | Should -BeLike ([WildcardPattern]::Escape($Message) + '*')
        $outcome.Terminating.FullyQualifiedErrorId | Should -Be 'RecordResultsInvalid,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $outcome.Terminating.Exception.Message | Should -BeLike '1 record result is invalid*nothing was sent*'
        Get-ApiRequest | Should -BeNullOrEmpty
    }

    It 'refuses a lone surrogate in <Case> before reading any record, and sends nothing' -TestCases @(
        @{ Case = 'the overall message'; Arguments = @{ Status = 'error'; ErrorMessage = "bad file $([char]0xD800)" }; Message = 'The message is not valid Unicode (it has a lone surrogate character at index 9) and cannot be sent as JSON.' }
        @{ Case = 'a key field name'; Arguments = @{ KeyFieldName = 'id', "$([char]0xDC00)" }; Message = 'Key field name 2 is not valid Unicode (it has a lone surrogate character at index 0) and cannot be sent as JSON.' }
    ) {
        $outcome = Invoke-Submission { @{ record_id = 'r1'; status = 'matched' } | Submit-KalRegistrationResult $script:Operation $script:File @Arguments @args }

        $outcome.Terminating.FullyQualifiedErrorId | Should -Be 'UnsupportedJsonValue,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $outcome.Terminating.Exception.Message | Should -Be $Message
        Get-ApiRequest | Should -BeNullOrEmpty
    }

    It 'sends surrogate pairs (emoji) in every field exactly as given' {
        New-KalRecordResult -RecordId 'r🧪' -Status matched -Data @{ 'n🧪' = 'aspirin 🧪' } -ErrorMessage 'note 🧪' |
            Submit-KalRegistrationResult $script:Operation $script:File -Status error -ErrorMessage 'file 🧪' -KeyFieldName 'n🧪'

        $body = Get-SubmittedBody | ConvertFrom-Json
        $body.message | Should -BeExactly 'file 🧪'
        $body.key_field_names | Should -BeExactly 'n🧪'
        $body.records[0].record_id | Should -BeExactly 'r🧪'
        $body.records[0].data.'n🧪' | Should -BeExactly 'aspirin 🧪'
        $body.records[0].error_message | Should -BeExactly 'note 🧪'
    }

    It 'reports every bad record up to ten, then counts them all, and sends nothing' {
        $records = foreach ($i in 1..25) { @{ record_id = "r$i"; status = '' } }
        $records += @{ record_id = 'ok'; status = 'matched'; data = @{ f = [scriptblock]::Create('1') } }
        $outcome = Invoke-Submission { Submit-KalRegistrationResult $script:Operation $script:File -Record $records @args }

        $outcome.Errors.Count | Should -Be 10
        $outcome.Errors[9].Exception.Message | Should -BeLike "records``[9``] (record_id 'r10') has no status*"
        $outcome.Terminating.Exception.Message | Should -BeLike '26 record results are invalid (of 26); nothing was sent*'
        Get-ApiRequest | Should -BeNullOrEmpty
    }

    It 'refuses results that miss expected record ids or add unexpected ones, listing them' {
        $outcome = Invoke-Submission {
            'r1', 'r4', 'r5' | New-KalRecordResult -Status matched |
                Submit-KalRegistrationResult $script:Operation $script:File -ExpectedRecordId r1, r2, r3 @args
        }
        $outcome.Errors | Should -BeNullOrEmpty
        $outcome.Terminating.FullyQualifiedErrorId | Should -Be 'RecordIdsNotAsExpected,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $outcome.Terminating.Exception.Message | Should -Be "The results do not match the expected record ids: 2 expected records have no result ('r2', 'r3'); 2 results are for a record that was not expected ('r4', 'r5'). Nothing was sent."
        Get-ApiRequest | Should -BeNullOrEmpty
    }

    It 'lists at most ten missing ids and counts the rest' {
        $expected = 1..25 | ForEach-Object { "r$_" }
        $outcome = Invoke-Submission { New-KalRecordResult r1 matched | Submit-KalRegistrationResult $script:Operation $script:File -ExpectedRecordId $expected @args }
        $outcome.Terminating.Exception.Message | Should -BeLike "*24 expected records have no result ('r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11' and 14 more)*"
        Get-ApiRequest | Should -BeNullOrEmpty
    }

    It 'refuses an overall status other than success or error before reading any record' {
        $thrown = { New-KalRecordResult r1 matched | Submit-KalRegistrationResult $script:Operation $script:File -Status done } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'ParameterArgumentValidationError,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.Exception.Message | Should -BeLike '*"success,error"*'
        Get-ApiRequest | Should -BeNullOrEmpty
    }

    It 'refuses an operation id that is a path' {
        $thrown = { Submit-KalRegistrationResult 'op/../x' $script:File } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'InvalidId,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        Get-ApiRequest | Should -BeNullOrEmpty
    }

    It 'stops at the first bad record with -ErrorAction Stop, sending nothing' {
        $thrown = { @{ record_id = 'r1' }, @{ record_id = 'r2'; status = 'matched' } | Submit-KalRegistrationResult $script:Operation $script:File -ErrorAction Stop } |
            Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'RecordStatusMissing,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        Get-ApiRequest | Should -BeNullOrEmpty
    }
}

Describe 'Submit-KalRegistrationResult: -WhatIf, the server and retries' {
    BeforeEach { Reset-Registration }

    It '-WhatIf validates, says what would be sent, and sends nothing' {
        $transcript = Join-Path $TestDrive 'whatif.txt'
        Start-Transcript -LiteralPath $transcript -UseMinimalHeader | Out-Null
        try {
            $output = 'a', 'b', 'c' | New-KalRecordResult -Status matched | Submit-KalRegistrationResult $script:Operation $script:File -PassThru -WhatIf
        } finally {
            Stop-Transcript | Out-Null
        }
        $output | Should -BeNullOrEmpty
        Get-Content -LiteralPath $transcript -Raw |
            Should -Match ([regex]::Escape("What if: Performing the operation ""Submit 3 record results (143 bytes) with status 'success'"" on target ""file '$($script:File)' of operation '$($script:Operation)'"""))
        Get-ApiRequest | Should -BeNullOrEmpty

        $invalid = Invoke-Submission { @{ record_id = 'a' } | Submit-KalRegistrationResult $script:Operation $script:File -WhatIf @args }
        $invalid.Terminating.FullyQualifiedErrorId | Should -BeLike 'RecordResultsInvalid,*'
    }

    It 'works with -WhatIf even when not connected' {
        Disconnect-KalApi
        { New-KalRecordResult r1 matched | Submit-KalRegistrationResult $script:Operation $script:File -WhatIf } | Should -Not -Throw
        { New-KalRecordResult r1 matched | Submit-KalRegistrationResult $script:Operation $script:File } | Should -Throw -ErrorId 'KalNotConnected,*'
    }

    It "surfaces the server's 400 message" {
        Invoke-Sandbox $script:Sandbox POST faults @{
            method = 'POST'; path_prefix = '/operations/'; status = 400; content_type = 'application/json'
            body = '{"code":"validation_error","message":"records[0].status must be one of matched, not_found","details":[{"field":"records[0].status","message":"unknown status"}]}'
        } | Out-Null
        $thrown = { New-KalRecordResult r1 found | Submit-KalRegistrationResult $script:Operation $script:File } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'KalInvalidRequest,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.CategoryInfo.Category | Should -Be 'InvalidData'
        $thrown.Exception.Message | Should -BeLike "POST /operations/$($script:Operation)/register/$($script:File)/results failed with 400 Bad Request: records``[0``].status must be one of matched, not_found (records``[0``].status: unknown status)"
        $thrown.Exception.ServerMessage | Should -BeLike 'records*must be one of matched, not_found*'
        $thrown.ErrorDetails.Message | Should -Be $thrown.Exception.Message
        @(Get-ResultsRequest).Count | Should -Be 1
    }

    It 'says which registration was not found' {
        $thrown = { Submit-KalRegistrationResult $script:Operation 'no-such-file' } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'KalRegistrationNotFound,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.Exception.Message | Should -BeLike "*Registration of file 'no-such-file' in operation '$($script:Operation)' not found*"
    }

    It 'sends the same body again after a 503 with Retry-After, and only then' {
        Invoke-Sandbox $script:Sandbox POST faults @{ method = 'POST'; path_prefix = '/operations/'; status = 503; retry_after = '0' } | Out-Null
        New-KalRecordResult r1 matched -Data @{ id = 'CMP-1' } | Submit-KalRegistrationResult $script:Operation $script:File

        $attempts = Get-ResultsRequest
        $attempts.status | Should -Be @(503, 204)
        $attempts[1].body | Should -BeExactly $attempts[0].body
        $attempts[1].headers.'content-length' | Should -Be ([string] $attempts[0].body_length)
        Get-SubmittedBody | Should -BeExactly '{"status":"success","records":[{"record_id":"r1","status":"matched","data":{"id":"CMP-1"}}]}'
    }

    It 'does not send again after a 500, which the server may have processed' {
        Invoke-Sandbox $script:Sandbox POST faults @{ method = 'POST'; path_prefix = '/operations/'; status = 500; times = 3 } | Out-Null
        { New-KalRecordResult r1 matched | Submit-KalRegistrationResult $script:Operation $script:File } | Should -Throw -ErrorId 'KalServerError,*'
        @(Get-ResultsRequest).Count | Should -Be 1
    }

    It 'completes the overall -Status from success and error' {
        $line = 'Submit-KalRegistrationResult -Status '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('error', 'success')
    }
}

Describe 'New-KalRecordResult' {
    BeforeEach { Reset-Registration }

    It 'emits a typed record result with a readable table view' {
        $result = New-KalRecordResult -RecordId r1 -Status matched -Data ([ordered]@{ id = 'CMP-1'; mw = 180.16 }) -ErrorMessage 'checked twice'
        $result | Should -BeOfType ([Kalbio.PowerShell.Model.KalRecordResult])
        $result.RecordId | Should -Be 'r1'
        $result.Status | Should -Be 'matched'
        $result.Data.Keys | Should -Be @('id', 'mw')
        $result.ErrorMessage | Should -Be 'checked twice'
        $table = $result | Format-Table | Out-String -Width 200
        $table | Should -Match 'RecordId\s+Status\s+Data\s+ErrorMessage'
        $table | Should -Match 'r1\s+matched\s+id=CMP-1; mw=180.16\s+checked twice'
    }

    It 'binds CSV columns by name and copies the -DataProperty columns, in that order' {
        $rows = @'
record_id,status,error_message,smiles,name,id
r1,matched,,CCO,Ethanol,CMP-1
r2,error,no such compound,C,Methane,CMP-2
'@ | ConvertFrom-Csv
        $results = $rows | New-KalRecordResult -DataProperty id, name, smiles
        $results.RecordId | Should -Be @('r1', 'r2')
        $results.Status | Should -Be @('matched', 'error')
        $results[0].ErrorMessage | Should -BeNullOrEmpty
        $results[1].ErrorMessage | Should -Be 'no such compound'
        $results[0].Data.Keys | Should -Be @('id', 'name', 'smiles')
        $results[1].Data.Values | Should -Be @('CMP-2', 'Methane', 'C')
    }

    It 'reads RecordId, Status and ErrorMessage properties, hashtables and plain ids' {
        ([pscustomobject]@{ RecordId = 'p1'; Status = 'created'; ErrorMessage = 'note' } | New-KalRecordResult).ErrorMessage | Should -Be 'note'
        (@{ record_id = 'h1'; status = 'matched'; data = @{ a = 1 } } | New-KalRecordResult).Data.a | Should -Be 1
        $fromIds = 'x1', 'x2' | New-KalRecordResult -Status not_found
        $fromIds.RecordId | Should -Be @('x1', 'x2')
        $fromIds.Status | Should -Be @('not_found', 'not_found')
    }

    It 'lets parameters given on the command line win over the row' {
        $row = [pscustomobject]@{ record_id = 'r1'; status = 'matched'; compound = 'CMP-9' }
        $result = $row | New-KalRecordResult -Status created -ErrorMessage 'fixed'
        $result.RecordId | Should -Be 'r1'
        $result.Status | Should -Be 'created'
        $result.ErrorMessage | Should -Be 'fixed'
    }

    It 'refuses a script block for -RecordId instead of taking its text as the id' {
        $row = [pscustomobject]@{ status = 'matched'; compound = 'CMP-9' }
        $thrown = { $row | New-KalRecordResult -RecordId { "id-$($_.compound)" } } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentTransformationError,*'
        $thrown.Exception.Message | Should -BeLike '*script block is not accepted*ForEach-Object*'
    }

    It 'reads the error message under the naming convention of the row: <Case>' -TestCases @(
        @{ Case = 'record_id and error_message'; Row = [pscustomobject]@{ record_id = 'r1'; status = 'error'; error_message = 'snake' }; Expected = 'snake' }
        @{ Case = 'RecordId and ErrorMessage'; Row = [pscustomobject]@{ RecordId = 'r1'; Status = 'error'; ErrorMessage = 'pascal' }; Expected = 'pascal' }
        @{ Case = 'either, when the id is a parameter'; Row = [pscustomobject]@{ status = 'error'; ErrorMessage = 'given' }; Expected = 'given' }
    ) {
        ($Row | New-KalRecordResult -RecordId r1 -ErrorAction Stop).ErrorMessage | Should -Be $Expected
        if ($Case -notlike 'either*') { ($Row | New-KalRecordResult).ErrorMessage | Should -Be $Expected }
    }

    It 'turns -Data objects into ordered data, each result with its own copy' {
        $first, $second = 'a', 'b' | New-KalRecordResult -Status matched -Data ([pscustomobject]@{ source = 'registry'; n = 2 })
        $first.Data.Keys | Should -Be @('source', 'n')
        $first.Data['source'] = 'changed'
        $second.Data['source'] | Should -Be 'registry'
    }

    It 'writes a clear error for <Case> and goes on with the next row' -TestCases @(
        @{ Case = 'an empty record id'; Row = [pscustomobject]@{ record_id = ''; status = 'matched'; id = 1 }; ErrorId = 'RecordIdMissing'; Message = 'Input `[0`] has no record id*' }
        @{ Case = 'an empty status'; Row = [pscustomobject]@{ record_id = 'r0'; status = ' '; id = 1 }; ErrorId = 'RecordStatusMissing'; Message = 'Input `[0`] has no status*' }
        @{ Case = 'data that is not an object'; Row = [pscustomobject]@{ record_id = 'r0'; status = 'matched'; data = 'x' }; ErrorId = 'RecordDataNotAnObject'; Message = "Input ``[0``] has data that is the text 'x'*" }
        @{ Case = 'a -DataProperty column the row lacks'; Row = [pscustomobject]@{ record_id = 'r0'; status = 'matched'; name = 'n' }; ErrorId = 'DataPropertyNotFound'; Message = "Input ``[0``] has no property 'id' to copy into data (it has: record_id, status, name)*" }
    ) {
        $good = [pscustomobject]@{ record_id = 'r1'; status = 'matched'; id = 1; name = 'n' }
        $dataProperty = if ($ErrorId -eq 'DataPropertyNotFound') { @{ DataProperty = 'id' } } else { @{} }
        $results = $Row, $good | New-KalRecordResult @dataProperty -ErrorVariable problems -ErrorAction SilentlyContinue

        @($results).Count | Should -Be 1
        $results.RecordId | Should -Be 'r1'
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be "$ErrorId,Kalbio.PowerShell.Commands.NewKalRecordResultCommand"
        $problems[0].TargetObject | Should -Be $Row
        $problems[0].Exception.Message | Should -BeLike $Message
    }

    It 'refuses bad parameters once, before any row: <Case>' -TestCases @(
        @{ Case = 'blank -RecordId'; Arguments = @{ RecordId = ' '; Status = 'matched' }; ErrorId = 'RecordIdMissing' }
        @{ Case = 'blank -Status'; Arguments = @{ RecordId = 'r1'; Status = ' ' }; ErrorId = 'RecordStatusMissing' }
        @{ Case = '-Data that is text'; Arguments = @{ RecordId = 'r1'; Status = 'matched'; Data = 'CMP-1' }; ErrorId = 'RecordDataNotAnObject' }
        @{ Case = '-Data and -DataProperty'; Arguments = @{ Status = 'matched'; Data = @{}; DataProperty = 'id' }; ErrorId = 'DataAndDataProperty' }
        @{ Case = 'a repeated -DataProperty'; Arguments = @{ Status = 'matched'; DataProperty = 'id', 'ID' }; ErrorId = 'InvalidDataProperty' }
    ) {
        { New-KalRecordResult @Arguments } | Should -Throw -ErrorId "$ErrorId,Kalbio.PowerShell.Commands.NewKalRecordResultCommand"
    }

    It 'suggests the usual record statuses and accepts any other' {
        $line = 'New-KalRecordResult -RecordId r1 -Status n'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('not_found')
        (New-KalRecordResult r1 'needs_review').Status | Should -Be 'needs_review'
    }
}
