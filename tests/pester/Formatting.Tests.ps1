BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:KalbioOutputTypes = @(Get-Command -Module Kalbio | ForEach-Object OutputType | ForEach-Object Name |
        Where-Object { $_ -like 'Kalbio.*' } | Sort-Object -Unique | ForEach-Object { @{ TypeName = $_ } })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
}

Describe 'Output types' {
    It 'every cmdlet declares what it writes' {
        foreach ($command in Get-Command -Module Kalbio) {
            $command.OutputType | Should -Not -BeNullOrEmpty -Because "$($command.Name) needs [OutputType]"
        }
    }

    It '<TypeName> has a default table view' -ForEach $script:KalbioOutputTypes {
        $views = @(Get-FormatData -TypeName $TypeName -PowerShellVersion $PSVersionTable.PSVersion).FormatViewDefinition
        $views.Count | Should -BeGreaterThan 0
        # Except a webhook event: Receive-KalWebhookEvent streams them, and a table would be held back until a second
        # one arrives, so its default is a list; Format-Table still finds its table view.
        $default = if ($TypeName -eq 'Kalbio.PowerShell.Model.RegistrationEvent') { [System.Management.Automation.ListControl] } else { [System.Management.Automation.TableControl] }
        $views[0].Control | Should -BeOfType $default
        @($views.Control | Where-Object { $_ -is [System.Management.Automation.TableControl] }) | Should -HaveCount 1
    }

    It 'completes the properties of pipeline results from the declared output type' {
        $line = 'Get-KalRegistration -OperationId op | Where-Object { $_.St'
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $completions | Should -Contain 'Status'
        $line = 'New-KalRecordResult -RecordId r -Status matched | ForEach-Object { $_.Rec'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'RecordId'
    }

    It 'completes the lifecycle states for Set-KalRegistrationStatus -Status' {
        $line = 'Set-KalRegistrationStatus -OperationId o -FileId f -Status val'
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $completions | Should -Contain 'validated'
        $completions | Should -Contain 'validation_failed'
    }
}

Describe 'Default output' {
    It 'shows a record result as a table row without Select-Object' {
        $text = New-KalRecordResult -RecordId rec-1 -Status matched -Data @{ id = 'CPD-1' } | Out-String
        $text | Should -Match 'RecordId\s+Status'
        $text | Should -Match 'rec-1\s+matched'
    }

    It 'shows a parsed webhook event as a table row' {
        $text = '{"event_type":"registration_submitted","data":{"operation_id":"op-1","file_id":"f-1","file_name":"a.csv","record_ids":["r1","r2"]}}' |
            ConvertFrom-KalWebhookEvent | Out-String
        $text | Should -Match 'op-1'
        $text | Should -Match 'a\.csv'
    }
}
