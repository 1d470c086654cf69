BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Cmdlets = @(Get-Command -Module Kalbio -CommandType Cmdlet | ForEach-Object {
        @{ Name = $_.Name; Parameters = @($_.Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters }) }
    })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
}

Describe 'Help for <Name>' -ForEach $script:Cmdlets {
    BeforeAll {
        $script:Help = Get-Help $Name -Full
    }

    It 'has a synopsis and a description written for it' {
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        # Without help, PowerShell makes the synopsis up from the syntax: "Verb-Noun [-Param] <Type> ...".
        $Help.Synopsis | Should -Not -Match ([regex]::Escape($Name) + '\s+\[')
        ($Help.Description.Text -join ' ').Length | Should -BeGreaterThan 40
    }

    It 'describes every parameter' {
        foreach ($parameter in $Parameters) {
            $entry = $Help.Parameters.Parameter | Where-Object Name -EQ $parameter
            $entry | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name needs help"
            ($entry.Description.Text -join ' ') | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name needs a description"
        }
    }

    It 'Get-Help -Full shows its text in lines that fit a 120-column console, so no word is split' {
        $code = @($Help.Examples.Example.Code -split "`r?`n" | ForEach-Object Trim)
        $section = ''
        $long = foreach ($line in (Get-Help $Name -Full | Out-String -Width 1000) -split "`r?`n") {
            if ($line -match '^[A-Z][A-Z ]+$') { $section = $line }
            # The syntax line is made and wrapped by PowerShell itself; example code is checked below.
            if ($section -eq 'SYNTAX' -or $line.Trim() -in $code) { continue }
            if ($line.TrimEnd().Length -ge 120) { $line.Trim() }
        }
        $long | Should -BeNullOrEmpty
    }

    It 'has example code whose lines fit a 120-column console' {
        $long = @($Help.Examples.Example.Code -split "`r?`n" | Where-Object { $_.TrimEnd().Length + 4 -ge 120 })
        $long | Should -BeNullOrEmpty -Because 'Get-Help indents example code by 4 columns'
    }

    It 'has at least two examples with code' {
        @($Help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        foreach ($example in $Help.Examples.Example) { $example.Code | Should -Not -BeNullOrEmpty }
    }

    It 'names its inputs and outputs' {
        @($Help.InputTypes.InputType).Count | Should -BeGreaterOrEqual 1
        @($Help.ReturnValues.ReturnValue).Count | Should -BeGreaterOrEqual 1
    }
}

Describe 'about_Kalbio' {
    It 'has lines that fit a 120-column console' {
        $long = @((Get-Help about_Kalbio | Out-String -Width 1000) -split '\r?\n' | Where-Object { $_.TrimEnd().Length -ge 120 })
        $long | Should -BeNullOrEmpty
    }

    It 'is found by Get-Help and covers auth, environment variables, retries and troubleshooting' {
        $text = Get-Help about_Kalbio | Out-String
        foreach ($heading in 'AUTHENTICATION', 'ENVIRONMENT VARIABLES', 'RETRIES AND TIMEOUTS', 'TROUBLESHOOTING') {
            $text | Should -BeLike "*$heading*"
        }
    }
}
