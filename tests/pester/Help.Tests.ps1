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
    It 'is found by Get-Help and covers auth, environment variables, retries and troubleshooting' {
        $text = Get-Help about_Kalbio | Out-String
        foreach ($heading in 'AUTHENTICATION', 'ENVIRONMENT VARIABLES', 'RETRIES AND TIMEOUTS', 'TROUBLESHOOTING') {
            $text | Should -BeLike "*$heading*"
        }
    }
}
