# Nothing is sent unless everything is valid, across the whole pipeline (issue 12, items 1 and 5), and the one-cmdlet
# pipeline Import-Csv | Submit-KalRegistrationResult -DataProperty (issue 14, item 1).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'ResultsTestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox
    $script:Operation = 'op-pipe'
    $script:File = 'file-pipe'

    function New-Csv([string] $Name, [string[]] $Lines) {
        $path = Join-Path $TestDrive $Name
        [IO.File]::WriteAllText($path, ($Lines -join "`n") + "`n", [Text.UTF8Encoding]::new($false))
        $path
    }
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'A pipeline whose rows New-KalRecordResult could not read sends nothing' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'refuses when every row lacks <Column>, with -ErrorAction <Action> on New-KalRecordResult' -TestCases @(
        @{ Column = 'record_id'; Header = 'id,status'; Row = 'CMP-1,matched'; Action = 'SilentlyContinue'; ErrorId = 'RecordIdMissing' }
        @{ Column = 'record_id'; Header = 'id,status'; Row = 'CMP-1,matched'; Action = 'Continue'; ErrorId = 'RecordIdMissing' }
        @{ Column = 'status'; Header = 'record_id,id'; Row = 'r1,CMP-1'; Action = 'SilentlyContinue'; ErrorId = 'RecordStatusMissing' }
        @{ Column = 'status'; Header = 'record_id,id'; Row = 'r1,CMP-1'; Action = 'Ignore'; ErrorId = 'RecordStatusMissing' }
    ) {
        $csv = New-Csv 'bad.csv' @($Header, $Row, ($Row -replace '1', '2'))
        $thrown = $null
        try {
            Import-Csv -LiteralPath $csv | New-KalRecordResult -DataProperty id -ErrorAction $Action 2>$null |
                Submit-KalRegistrationResult -OperationId $script:Operation -FileId $script:File -KeyFieldName id
        } catch { $thrown = $_ }

        $thrown | Should -Not -BeNullOrEmpty
        $thrown.FullyQualifiedErrorId | Should -Be 'RecordResultsInvalid,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.Exception.Message | Should -BeLike '2 input rows could not be made into record results by New-KalRecordResult (the first: Input `[0`] has no *); nothing was sent*-ExpectedRecordId*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
        (Invoke-Sandbox $script:Sandbox GET registrations).status | Should -Not -Be 'completed'
    }

    It 'refuses when one row of many is bad, naming it, though the good rows were read' {
        $csv = New-Csv 'mixed.csv' @('record_id,status,id', 'r1,matched,CMP-1', 'r2,,CMP-2', 'r3,created,CMP-3')
        $thrown = { Import-Csv -LiteralPath $csv | New-KalRecordResult -DataProperty id -ErrorAction SilentlyContinue | Submit-KalRegistrationResult $script:Operation $script:File } |
            Should -Throw -PassThru
        $thrown.Exception.Message | Should -BeLike "1 input row could not be made into record results by New-KalRecordResult (the first: Input ``[1``] has no status*not even the 2 record results that were read*"
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'still counts rows lost inside a ForEach-Object upstream' {
        $thrown = { 'r1', 'r2' | ForEach-Object { New-KalRecordResult -RecordId $_ -Data @{ x = 1 } -ErrorAction SilentlyContinue -InputObject ([pscustomobject]@{ status = '' }) } |
                Submit-KalRegistrationResult $script:Operation $script:File } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -BeLike 'RecordResultsInvalid,*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'does not count rows lost in an earlier, separate pipeline' {
        $null = New-KalRecordResult -InputObject ([pscustomobject]@{ record_id = 'x' }) -ErrorAction SilentlyContinue
        New-KalRecordResult r1 matched | Submit-KalRegistrationResult $script:Operation $script:File
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeExactly '{"status":"success","records":[{"record_id":"r1","status":"matched"}]}'
    }

    It 'leaves New-KalRecordResult | Export-Csv with only the good rows (no marker rows)' {
        $out = Join-Path $TestDrive 'out.csv'
        [pscustomobject]@{ record_id = 'r1'; status = 'matched' }, [pscustomobject]@{ record_id = 'r2'; status = '' } |
            New-KalRecordResult -ErrorAction SilentlyContinue | Select-Object RecordId, Status | Export-Csv -LiteralPath $out -UseQuotes Never
        Get-Content -LiteralPath $out | Should -Be @('RecordId,Status', 'r1,matched')
    }
}

Describe 'A pipeline that produced no record results sends nothing unless asked to' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'refuses an empty pipeline as a success, saying what to do' {
        $thrown = { @() | Submit-KalRegistrationResult $script:Operation $script:File } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'NoRecordResults,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.Exception.Message | Should -BeLike '*nothing was sent*-ExpectedRecordId*-Status error*-AllowEmpty*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'refuses an empty CSV piped through New-KalRecordResult, and an empty -Record' {
        $csv = New-Csv 'empty.csv' @('record_id,status,id')
        { Import-Csv -LiteralPath $csv | New-KalRecordResult -DataProperty id | Submit-KalRegistrationResult $script:Operation $script:File } |
            Should -Throw -ErrorId 'NoRecordResults,*'
        { Submit-KalRegistrationResult $script:Operation $script:File -Record @() } | Should -Throw -ErrorId 'NoRecordResults,*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'sends an empty success with -AllowEmpty' {
        @() | Submit-KalRegistrationResult $script:Operation $script:File -AllowEmpty
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeExactly '{"status":"success"}'
    }

    It 'sends an empty success when -ExpectedRecordId says there are no records' {
        @() | Submit-KalRegistrationResult $script:Operation $script:File -ExpectedRecordId @()
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeExactly '{"status":"success"}'
    }

    It 'sends a whole-file error from an empty pipeline, and with no pipeline at all' {
        @() | Submit-KalRegistrationResult $script:Operation $script:File -Status error -ErrorMessage 'no rows'
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeExactly '{"status":"error","message":"no rows","error_message":"no rows"}'
        Reset-TestRegistration $script:Sandbox $script:Operation $script:File
        Submit-KalRegistrationResult $script:Operation $script:File -Status error -ErrorMessage 'bad file'
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeExactly '{"status":"error","message":"bad file","error_message":"bad file"}'
    }
}

Describe 'Record statuses outside the usual ones' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'warns once per unusual status from New-KalRecordResult, and still sends it' {
        $warnings = $null
        'r1', 'r2' | New-KalRecordResult -Status matchd -WarningVariable warnings -WarningAction SilentlyContinue |
            Submit-KalRegistrationResult $script:Operation $script:File
        @($warnings).Count | Should -Be 1
        $warnings[0].Message | Should -BeLike "The record status 'matchd' is not one of the usual ones (matched, not_found, created, error)*typo*"
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeLike '*"status":"matchd"*'
    }

    It 'warns for an unusual status of a hashtable piped to Submit, and not for usual ones' {
        $warnings = $null
        @{ record_id = 'r1'; status = 'matched' }, @{ record_id = 'r2'; status = 'not_fund' } |
            Submit-KalRegistrationResult $script:Operation $script:File -WarningVariable warnings -WarningAction SilentlyContinue
        @($warnings).Count | Should -Be 1
        $warnings[0].Message | Should -BeLike "*'not_fund'*"
    }

    It 'does not warn for the usual statuses' {
        $warnings = $null
        $null = 'matched', 'not_found', 'created', 'error' | ForEach-Object { New-KalRecordResult r1 $_ -WarningVariable +warnings -WarningAction SilentlyContinue }
        $warnings | Should -BeNullOrEmpty
    }

    It 'completes every usual record status for New-KalRecordResult -Status' {
        $line = 'New-KalRecordResult -RecordId r1 -Status '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('matched', 'not_found', 'created', 'error')
    }
}

Describe 'Import-Csv | Submit-KalRegistrationResult -DataProperty (one cmdlet)' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'sends the same body, byte for byte, as with New-KalRecordResult -DataProperty in between' {
        $csv = New-Csv 'same.csv' @(
            'record_id,status,error_message,id,name,smiles'
            'r1,matched,,CMP-1,"Aspirin, plain",CC(=O)Oc1ccccc1C(=O)O'
            'r2,not_found,"No entry for ""x""",,"two' + "`n" + 'lines",C'
            'r3,created,,CMP-3,Ünïcödé,F/C=C/F')
        Import-Csv -LiteralPath $csv | New-KalRecordResult -DataProperty id, name, smiles |
            Submit-KalRegistrationResult $script:Operation $script:File -KeyFieldName id
        $viaNew = (Get-TestSubmittedBody $script:Sandbox)
        Reset-TestRegistration $script:Sandbox $script:Operation $script:File
        Import-Csv -LiteralPath $csv | Submit-KalRegistrationResult $script:Operation $script:File -DataProperty id, name, smiles -KeyFieldName id
        $direct = (Get-TestSubmittedBody $script:Sandbox)

        $direct | Should -BeExactly $viaNew
        $direct | Should -BeLike '*"records":`[{"record_id":"r1","status":"matched","data":{"id":"CMP-1","name":"Aspirin, plain","smiles":"CC(=O)Oc1ccccc1C(=O)O"}}*'
        $direct | Should -BeLike '*"name":"two\nlines"*"error_message":"No entry for \"x\""*'
    }

    It 'reads RecordId/Status/ErrorMessage rows and hashtables as New-KalRecordResult does' {
        [pscustomobject]@{ RecordId = 'r1'; Status = 'matched'; ErrorMessage = 'note'; id = 1 }, @{ record_id = 'r2'; status = 'created'; id = 2 } |
            Submit-KalRegistrationResult $script:Operation $script:File -DataProperty id
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeExactly '{"status":"success","records":[{"record_id":"r1","status":"matched","data":{"id":1},"error_message":"note"},{"record_id":"r2","status":"created","data":{"id":2}}]}'
    }

    It 'refuses a row without a -DataProperty column, naming the row and its columns, and sends nothing' {
        $csv = New-Csv 'missing.csv' @('record_id,status,id', 'r1,matched,CMP-1')
        $problems = $null
        $thrown = $null
        try {
            Import-Csv -LiteralPath $csv | Submit-KalRegistrationResult $script:Operation $script:File -DataProperty id, smiles -ErrorVariable problems -ErrorAction SilentlyContinue
        } catch { $thrown = $_ }
        $problems[0].FullyQualifiedErrorId | Should -Be 'DataPropertyNotFound,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $problems[0].Exception.Message | Should -BeLike "records``[0``] has no property 'smiles' to copy into data (it has: record_id, status, id)*"
        $thrown.FullyQualifiedErrorId | Should -BeLike 'RecordResultsInvalid,*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'refuses a duplicate record id and a missing status, and a repeated -DataProperty before any row' {
        $csv = New-Csv 'dup.csv' @('record_id,status,id', 'r1,matched,1', 'r2,,2', 'r1,created,3')
        $problems = $null
        $thrown = $null
        try {
            Import-Csv -LiteralPath $csv | Submit-KalRegistrationResult $script:Operation $script:File -DataProperty id -ErrorVariable problems -ErrorAction SilentlyContinue
        } catch { $thrown = $_ }
        $thrown.FullyQualifiedErrorId | Should -BeLike 'RecordResultsInvalid,*'
        $problems = @($problems | Where-Object { $_.FullyQualifiedErrorId -match '^(RecordStatusMissing|DuplicateRecordId),' })
        $problems.Count | Should -Be 2
        $problems[0].Exception.Message | Should -BeLike "records``[1``] (record_id 'r2') has no status*"
        $problems[1].Exception.Message | Should -BeLike "records``[2``] (record_id 'r1') repeats the record_id of records``[0``]*"
        { Import-Csv -LiteralPath $csv | Submit-KalRegistrationResult $script:Operation $script:File -DataProperty id, ID } |
            Should -Throw -ErrorId 'InvalidDataProperty,*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }
}
