# Submit-KalRegistrationResult -Path results.jsonl (issue 14, item 2): JSON Lines read in compiled code, with the same
# body and the same validation as the CSV path. Ctrl+C mid-file is tested beside the CSV case in ResultsFile.Tests.ps1.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'ResultsTestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox
    $script:Operation = 'op-jsonl'
    $script:File = 'file-jsonl'

    function New-TextFile([string] $Name, [string[]] $Line, [string] $Newline = "`n", [Text.Encoding] $Encoding = [Text.UTF8Encoding]::new($false)) {
        $path = Join-Path $TestDrive $Name
        [IO.File]::WriteAllText($path, ($Line -join $Newline) + $Newline, $Encoding)
        $path
    }

    # The hash of the body of the one submission the sandbox holds.
    function Get-SubmittedSha256 {
        $submissions = @(Invoke-Sandbox $script:Sandbox GET submissions)
        $submissions.Count | Should -Be 1 -Because 'exactly one submission is expected'
        $submissions[0].sha256
    }

    # The non-terminating errors of a refused submission (with their ids) and its terminating error.
    function Invoke-Refused([hashtable] $Arguments) {
        $problems = $null
        $terminating = $null
        try { Submit-KalRegistrationResult $script:Operation $script:File @Arguments -ErrorVariable problems -ErrorAction SilentlyContinue } catch { $terminating = $_ }
        [pscustomobject]@{
            Errors      = @($problems | Where-Object { $_ -is [Management.Automation.ErrorRecord] -and $_.FullyQualifiedErrorId -notlike 'RecordResultsInvalid,*' })
            Terminating = $terminating
        }
    }
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'Submit-KalRegistrationResult -Path with JSON Lines: the body' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'sends the bytes the CSV path sends for the same records: quotes, escapes, non-ASCII, a blank line (<Case>)' -TestCases @(
        @{ Case = 'no BOM, LF, .jsonl'; Name = 'same.jsonl'; Bom = $false; Newline = "`n" }
        @{ Case = 'UTF-8 BOM, CRLF, .NDJSON'; Name = 'same.NDJSON'; Bom = $true; Newline = "`r`n" }
    ) {
        $csv = New-TextFile 'same.csv' @(
            'record_id,status,error_message,id,name,smiles'
            'r1,matched,,CMP-1,"Aspirin, plain",CC(=O)Oc1ccccc1C(=O)O'
            "r2,not_found,""No entry for """"x"""""",,""two`nlines"",C"
            '#r3,created,,CMP-3,Ünïcödé 📄,F/C=C/F'
        )
        $jsonl = New-TextFile $Name -Newline $Newline -Encoding ([Text.UTF8Encoding]::new($Bom)) -Line @(
            '{"record_id": "r1", "status": "matched", "data": {"id": "CMP-1", "name": "Aspirin, plain", "smiles": "CC(=O)Oc1ccccc1C(=O)O"}}'
            '   '
            '{"status":"not_found","data":{"id":"","name":"two\nlines","smiles":"C"},"error_message":"No entry for \"x\"","record_id":"r2"}'
            '{"RecordId":"#r3","status":"created","data":{"id":"CMP-3","name":"\u00dcn\u00efc\u00f6d\u00e9 \ud83d\udcc4","smiles":"F\/C=C\/F"},"error_message":null}'
        )
        Submit-KalRegistrationResult $script:Operation $script:File -Path $csv -DataProperty id, name, smiles -KeyFieldName id
        $viaCsv = Get-SubmittedSha256
        Reset-TestRegistration $script:Sandbox $script:Operation $script:File
        Submit-KalRegistrationResult $script:Operation $script:File -Path $jsonl -KeyFieldName id
        $body = Get-TestSubmittedBody $script:Sandbox
        $allOfData = Get-SubmittedSha256
        Reset-TestRegistration $script:Sandbox $script:Operation $script:File
        Submit-KalRegistrationResult $script:Operation $script:File -LiteralPath $jsonl -DataProperty ID, name, smiles -KeyFieldName id
        $picked = Get-SubmittedSha256

        $body | Should -BeExactly ('{"status":"success","key_field_names":["id"],"records":[' +
            '{"record_id":"r1","status":"matched","data":{"id":"CMP-1","name":"Aspirin, plain","smiles":"CC(=O)Oc1ccccc1C(=O)O"}},' +
            '{"record_id":"r2","status":"not_found","data":{"id":"","name":"two\nlines","smiles":"C"},"error_message":"No entry for \"x\""},' +
            '{"record_id":"#r3","status":"created","data":{"id":"CMP-3","name":"Ünïcödé \uD83D\uDCC4","smiles":"F/C=C/F"}}]}')
        $allOfData | Should -Be $viaCsv
        # -DataProperty ID sends the key under the name it was given, as the CSV path does; here the same bytes only when spelled alike.
        $picked | Should -Not -Be $viaCsv
        Reset-TestRegistration $script:Sandbox $script:Operation $script:File
        Submit-KalRegistrationResult $script:Operation $script:File -LiteralPath $jsonl -DataProperty id, name, smiles -KeyFieldName id
        Get-SubmittedSha256 | Should -Be $viaCsv
    }

    It 'keeps the JSON types of data values: numbers as written, booleans, null, nested objects and arrays' {
        $jsonl = New-TextFile 'types.jsonl' @(
            '{"record_id": 17, "status": "matched", "data": {"mw": 180.16, "big": 12345678901234567890, "ok": true, "no": false, "none": null, "tags": ["a", 1.5e3], "nested": {"k": {"deeper": "\u00e9"}}}}'
            '{"record_id": "r2", "status": "created"}'
            '{"record_id": "r3", "status": "created", "data": null}'
        )
        Submit-KalRegistrationResult $script:Operation $script:File -Path $jsonl
        Get-TestSubmittedBody $script:Sandbox | Should -BeExactly ('{"status":"success","records":[' +
            '{"record_id":"17","status":"matched","data":{"mw":180.16,"big":12345678901234567890,"ok":true,"no":false,"none":null,"tags":["a",1.5e3],"nested":{"k":{"deeper":"é"}}}},' +
            '{"record_id":"r2","status":"created"},{"record_id":"r3","status":"created"}]}')
    }

    It 'sends a 10 MB value' {
        $value = 'x' * 10MB
        $jsonl = New-TextFile 'big.jsonl' @("{""record_id"":""r1"",""status"":""matched"",""data"":{""blob"":""$value""}}")
        Submit-KalRegistrationResult $script:Operation $script:File -Path $jsonl
        $expected = '{"status":"success","records":[{"record_id":"r1","status":"matched","data":{"blob":"' + $value + '"}}]}'
        Get-SubmittedSha256 | Should -Be (Get-TestSha256 $expected)
    }

    It 'does not load the CSV library for a JSON Lines file' {
        $jsonl = New-TextFile 'load.jsonl' @('{"record_id":"r1","status":"matched"}')
        $output = Invoke-ChildPwsh -Script @'
param($ModulePath, $File)
Import-Module $ModulePath
Submit-KalRegistrationResult op f -Path $File -WhatIf
"sylvan: $([bool]([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Sylvan.Data.Csv' }))"
'@ -ArgumentList $env:KALBIO_TEST_MODULE, $jsonl
        @($output -like '*Submit 1 record result*').Count | Should -Be 1 -Because 'the file was read'
        $output | Should -Contain 'sylvan: False'
    }
}

Describe 'Submit-KalRegistrationResult -Path with JSON Lines: validation sends nothing' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'names the line of a line that is not an object, of a missing record_id, of the second of a duplicate id, and of broken JSON' {
        $jsonl = New-TextFile 'bad.jsonl' @(
            '{"record_id":"r1","status":"matched"}'
            ''
            '["r2","matched"]'
            '{"status":"matched","data":{}}'
            '{"record_id":"r1","status":"created"}'
            '{"record_id":"r4","status":"matched"'
            '{"record_id":"r5","status":"matched"} {}'
            '{"record_id":"r6","status":"matched",}'
        )
        $outcome = Invoke-Refused @{ Path = $jsonl }
        # A file's repeated ids are found on another thread while it is read, so they come after its other problems.
        ($outcome.Errors.FullyQualifiedErrorId -replace ',Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand$') -join ' ' |
            Should -Be 'ResultsLineNotAnObject RecordIdMissing ResultsLineNotJson ResultsLineNotJson ResultsLineNotJson DuplicateRecordId'
        $outcome.Errors[0].Exception.Message | Should -BeLike 'Line 3 of bad.jsonl: records`[1`] is a JSON array, not a record object such as {"record_id": "r1", "status": "matched", "data": {...}}.'
        $outcome.Errors[1].Exception.Message | Should -BeLike 'Line 4 of bad.jsonl: records`[2`] has no record_id.*'
        $outcome.Errors[2].Exception.Message | Should -BeLike "Line 6 of bad.jsonl: records``[4``] (record_id 'r4') is not valid JSON (*)."
        $outcome.Errors[3].Exception.Message | Should -BeLike "Line 7 of bad.jsonl: records``[5``] (record_id 'r5') is not valid JSON (*)."
        $outcome.Errors[4].Exception.Message | Should -Be "Line 8 of bad.jsonl: records[6] (record_id 'r6') is not valid JSON (The JSON object contains a trailing comma at the end which is not supported in this mode.)."
        $outcome.Errors[5].Exception.Message | Should -BeLike "Line 5 of bad.jsonl: records``[3``] (record_id 'r1') repeats the record_id of records``[0``]*"
        $outcome.Errors[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $outcome.Terminating.FullyQualifiedErrorId | Should -BeLike 'RecordResultsInvalid,*'
        $outcome.Terminating.Exception.Message | Should -BeLike '6 record results are invalid (of 7); nothing was sent.*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'refuses a field records do not have, an id that is not text, data that is not an object, and a -DataProperty key that data lacks, by line' {
        $jsonl = New-TextFile 'fields.jsonl' @(
            '{"record_id":"r1","status":"matched","message":"x","data":{"id":"1","name":"a"}}'
            '{"record_id":true,"status":"matched","data":{"id":"2","name":"b"}}'
            '{"record_id":"r3","status":"matched","data":["3","c"]}'
            '{"record_id":"r4","status":"matched","data":{"id":"4"}}'
            '{"record_id":"r5","record_id":"r6","status":"matched","data":{"id":"5","name":"e"}}'
            '{"record_id":"r7","status":"matched","data":{"ID":"7","Name":"g"}}'
        )
        $outcome = Invoke-Refused @{ Path = $jsonl; DataProperty = 'id', 'name' }
        $expected = @(
            "Line 1 of fields.jsonl: records``[0``] (record_id 'r1') has a field 'message', which a record result does not have*"
            'Line 2 of fields.jsonl: records`[1`] has a record_id that is a JSON boolean; it must be text.'
            "Line 3 of fields.jsonl: records``[2``] (record_id 'r3') has data that is a JSON array; data must be an object*"
            "Line 4 of fields.jsonl: records``[3``] (record_id 'r4') has no key 'name' in its data to send (its data has: id). Check the names given to -DataProperty."
            "Line 5 of fields.jsonl: records``[4``] (record_id 'r6') gives record_id twice with different values ('r5' and 'r6')."
        )
        $outcome.Errors.Count | Should -Be 5 -Because 'line 6 is valid: -DataProperty matches keys in any case'
        foreach ($i in 0..4) { $outcome.Errors[$i].Exception.Message | Should -BeLike $expected[$i] }
        ($outcome.Errors.FullyQualifiedErrorId -replace ',.*') -join ' ' | Should -Be 'RecordFieldUnknown RecordFieldNotText RecordDataNotAnObject DataPropertyNotFound RecordFieldUnknown'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'checks -ExpectedRecordId and -KeyFieldName, and refuses a file of blank lines' {
        $jsonl = New-TextFile 'ids.jsonl' @('{"record_id":"r1","status":"matched","data":{"id":"1"}}')
        { Submit-KalRegistrationResult $script:Operation $script:File -Path $jsonl -ExpectedRecordId r1, r2 } | Should -Throw -ErrorId 'RecordIdsNotAsExpected,*'
        { Submit-KalRegistrationResult $script:Operation $script:File -Path $jsonl -KeyFieldName ' ' } | Should -Throw -ErrorId 'InvalidKeyFieldName,*'
        $blank = New-TextFile 'blank.jsonl' @('', '  ', "`t")
        { Submit-KalRegistrationResult $script:Operation $script:File -Path $blank } | Should -Throw -ErrorId 'NoRecordResults,*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'refuses -Delimiter, a -Encoding other than UTF-8, and a UTF-16 file, before anything is sent' {
        $jsonl = New-TextFile 'args.jsonl' @('{"record_id":"r1","status":"matched"}')
        $thrown = { Submit-KalRegistrationResult $script:Operation $script:File -Path $jsonl -Delimiter ';' } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'DelimiterNotForJsonLines,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $thrown = { Submit-KalRegistrationResult $script:Operation $script:File -Path $jsonl -Encoding latin1 } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'EncodingNotForJsonLines,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Submit-KalRegistrationResult $script:Operation $script:File -Path $jsonl -Encoding utf8 -WhatIf
        (Invoke-Sandbox $script:Sandbox GET requests) | Should -BeNullOrEmpty -Because 'not even a token is asked for'
        $utf16 = New-TextFile 'utf16.jsonl' @('{"record_id":"r1","status":"matched"}') -Encoding ([Text.UnicodeEncoding]::new($false, $true))
        { Submit-KalRegistrationResult $script:Operation $script:File -Path $utf16 } | Should -Throw -ErrorId 'ResultsFileNotUtf8,*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }
}
