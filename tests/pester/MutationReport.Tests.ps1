BeforeAll {
    $script:Root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
    Import-Module (Join-Path $script:Root 'tools/MutationReport.psm1') -Force

    # A Stryker report in the mutation-testing-elements schema: two files, every status once or more.
    function New-Report([string] $Path) {
        $mutant = { param($id, $status, $line, $reason) @{ id = "$id"; mutatorName = 'Equality mutation'; replacement = 'a > b'; status = $status; statusReason = $reason; location = @{ start = @{ line = $line; column = 1 }; end = @{ line = $line; column = 6 } } } }
        $report = @{
            schemaVersion = '2'
            files         = @{
                '/repo/src/Kalbio.Core/Http/A.cs' = @{
                    language = 'cs'
                    source   = "line one`nif (a >= b)`nline three"
                    mutants  = @(
                        (& $mutant 1 'Killed' 2), (& $mutant 2 'Killed' 2), (& $mutant 3 'Timeout' 2), (& $mutant 4 'Survived' 2),
                        (& $mutant 5 'NoCoverage' 3), (& $mutant 6 'CompileError' 1), (& $mutant 7 'Ignored' 1 'a capacity hint')
                    )
                }
                '/repo/src/Kalbio.Core/Json/B.cs' = @{
                    language = 'cs'
                    source   = 'x'
                    mutants  = @((& $mutant 8 'Killed' 1), (& $mutant 9 'Ignored' 1 'Removed by mutation type filter'))
                }
                '/repo/src/Kalbio.Core/Json/Outside.cs' = @{
                    language = 'cs'
                    source   = 'y'
                    mutants  = @((& $mutant 10 'Ignored' 1 'Removed by mutate filter'))
                }
            }
        }
        $report | ConvertTo-Json -Depth 10 | Set-Content -LiteralPath $Path
    }
}

# build.ps1 -Task Mutation prints these rows; the bar of issue 15 is checked against their scores.
Describe 'The mutation report' {
    BeforeAll {
        $script:Report = Join-Path $TestDrive 'mutation-report.json'
        New-Report $script:Report
    }

    It 'scores each mutated file as killed and timed out over those plus survived and uncovered; compile errors, filtered and equivalent mutants do not count' {
        $files = @(Get-MutationFileScore -ReportPath $script:Report -RelativeTo '/repo/src/Kalbio.Core')

        $files.File | Should -Be @([IO.Path]::Combine('Http', 'A.cs'), [IO.Path]::Combine('Json', 'B.cs'))
        $a = $files[0]
        $a.Killed, $a.Timeout, $a.Survived, $a.NoCoverage, $a.Equivalent | Should -Be @(2, 1, 1, 1, 1)
        $files[1].Equivalent | Should -Be 0 -Because 'a string mutation removed by the type filter is not an equivalent mutant'
        $a.Score | Should -Be 60
        $files[1].Score | Should -Be 100
    }

    It 'totals the scope from the files, not as an average of their scores' {
        $total = Get-MutationTotal -Files @(Get-MutationFileScore -ReportPath $script:Report)

        $total.Killed | Should -Be 3
        $total.Score | Should -Be ([math]::Round(100.0 * 4 / 6, 1))
    }

    It 'lists a survivor with the code it changed and an equivalent mutant with its reason' {
        $survivor = Get-MutationMutant -ReportPath $script:Report -Status Survived
        $survivor.Line | Should -Be 2
        $survivor.Code | Should -Be 'if (a >= b)'
        $survivor.Replacement | Should -Be 'a > b'

        $equivalent = @(Get-MutationMutant -ReportPath $script:Report -Status Equivalent)
        $equivalent.Reason | Should -Be @('a capacity hint')
    }

    It 'prints the survivors with their code and replacement, the equivalent mutants with their reasons, and every score column' {
        $text = (Show-MutationReport -ReportPath $script:Report -SourceRoot '/repo/src/Kalbio.Core') -join "`n"

        $text | Should -Match ([regex]::Escape("$([IO.Path]::Combine('Http', 'A.cs')):2  Survived  Equality mutation: if (a >= b)  ->  a > b"))
        $text | Should -Match ([regex]::Escape("$([IO.Path]::Combine('Http', 'A.cs')):1  Equality mutation: a capacity hint"))
        $text | Should -Not -Match 'Removed by'
        $text | Should -Match 'all files\s+3\s+1\s+1\s+1\s+1\s+66\.7'
    }

    It 'has no score for a file whose mutants were all ignored' {
        Get-MutationScore -Detected 0 -Undetected 0 | Should -BeNullOrEmpty
    }
}
