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

Describe 'Table labels and dates' {
    BeforeAll {
        $script:Sandbox = Start-TestSandbox
        $script:DatePattern = '\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{2}:\d{2}'
        $script:Connection = Connect-TestSandbox $script:Sandbox -PassThru
        $script:At = [DateTimeOffset]::new(2026, 11, 29, 14, 5, 6, [TimeSpan]::FromHours(1))
        $script:Registration = [Kalbio.PowerShell.Model.RegistrationFile]@{ OperationId = 'op-1'; FileId = 'f-1'; Status = 'completed'; CreatedAt = $script:At; UpdatedAt = $script:At }
        $script:Submission = [Kalbio.PowerShell.Model.KalResultSubmission]::new('op-1', 'f-1', 'completed', 1200, 3000, [TimeSpan]::FromSeconds(1.5), $script:At)
    }

    AfterAll {
        Disconnect-KalApi
        if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
    }

    It 'every column of the <TypeName> table is labelled with the property name Select-Object needs' -ForEach $script:KalbioOutputTypes {
        # The published type names live in Kalbio.Core (models) or Kalbio.PowerShell (the connection).
        $type = $TypeName -as [type]
        $type | Should -Not -BeNullOrEmpty -Because "$TypeName is loaded with the module"
        $table = @(Get-FormatData -TypeName $TypeName -PowerShellVersion $PSVersionTable.PSVersion).FormatViewDefinition |
            Where-Object { $_.Control -is [System.Management.Automation.TableControl] } | Select-Object -First 1
        $labels = @($table.Control.Headers.Label)
        $labels.Count | Should -BeGreaterThan 0
        foreach ($label in $labels) {
            $type.GetProperty($label) | Should -Not -BeNullOrEmpty -Because "the column '$label' should name a property of $TypeName"
        }
    }

    It 'shows the connection''s table columns under the names Select-Object takes' {
        $text = $script:Connection | Format-Table | Out-String -Width 250
        $text | Should -Match 'MaximumRetryCount'
        $text | Should -Match "TokenExpiresAt[\s\S]*$script:DatePattern"
        ($script:Connection | Select-Object MaximumRetryCount).MaximumRetryCount | Should -Be 3
    }

    It 'shows dates the same way, with the offset, in the <Case>' -ForEach @(
        @{ Case = 'connection table'; Show = { $script:Connection | Format-Table | Out-String -Width 250 }; Pattern = $null }
        @{ Case = 'connection list'; Show = { $script:Connection | Format-List | Out-String -Width 250 }; Pattern = '(?m)^ConnectedAt\s+: ' }
        @{ Case = 'registration list'; Show = { $script:Registration | Format-List | Out-String -Width 250 }; Pattern = '(?m)^CreatedAt\s+: 2026-11-29 14:05:06 \+01:00\s*$' }
        @{ Case = 'submission list'; Show = { $script:Submission | Format-List | Out-String -Width 250 }; Pattern = '(?m)^SubmittedAt\s+: 2026-11-29 14:05:06 \+01:00\s*$' }
    ) {
        $text = & $Show
        $text | Should -Match $script:DatePattern
        if ($Pattern) { $text | Should -Match $Pattern }
    }

    It 'lists every property of the <Name> in its list view' -ForEach @(
        @{ Name = 'connection'; Object = { $script:Connection } }
        @{ Name = 'registration'; Object = { $script:Registration } }
        @{ Name = 'submission'; Object = { $script:Submission } }
    ) {
        $object = & $Object
        $text = $object | Format-List | Out-String -Width 250
        foreach ($property in $object.PSObject.Properties.Name) {
            $text | Should -Match "(?m)^$property\s+:" -Because "Format-List should still show $property"
        }
    }
}
