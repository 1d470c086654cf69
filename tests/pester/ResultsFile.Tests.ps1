# Submit-KalRegistrationResult -Path / -LiteralPath (issue 14, item 2): a results CSV read in compiled code, with the
# same body and the same validation as the Import-Csv pipeline.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'ResultsTestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox
    $script:Operation = 'op-file'
    $script:File = 'file-file'

    function New-Csv([string] $Name, [string] $Text, [Text.Encoding] $Encoding = [Text.UTF8Encoding]::new($false)) {
        $path = Join-Path $TestDrive $Name
        [IO.File]::WriteAllText($path, $Text, $Encoding)
        $path
    }

    $script:Quoted = "record_id,status,error_message,id,name,smiles`r`n" +
        "r1,matched,,CMP-1,""Aspirin, plain"",CC(=O)Oc1ccccc1C(=O)O`r`n" +
        "r2,not_found,""No entry for """"x"""""",,""two`nlines"",C`r`n" +
        "#r3,created,,CMP-3,Ünïcödé 📄,F/C=C/F`r`n"
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'Submit-KalRegistrationResult -Path: the body' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'sends the same bytes as Import-Csv | New-KalRecordResult, for quoting, embedded newlines and a BOM (<Case>)' -TestCases @(
        @{ Case = 'no BOM'; Bom = $false }
        @{ Case = 'UTF-8 BOM'; Bom = $true }
    ) {
        $csv = New-Csv 'quoted.csv' $script:Quoted ([Text.UTF8Encoding]::new($Bom))
        Import-Csv -LiteralPath $csv | New-KalRecordResult -DataProperty id, name, smiles | Submit-KalRegistrationResult $script:Operation $script:File -KeyFieldName id
        $viaPipeline = (Get-TestSubmittedBody $script:Sandbox)
        Reset-TestRegistration $script:Sandbox $script:Operation $script:File
        Submit-KalRegistrationResult $script:Operation $script:File -Path $csv -DataProperty id, name, smiles -KeyFieldName id
        $direct = (Get-TestSubmittedBody $script:Sandbox)

        $direct | Should -BeExactly $viaPipeline
        $direct | Should -BeExactly ('{"status":"success","key_field_names":["id"],"records":[' +
            '{"record_id":"r1","status":"matched","data":{"id":"CMP-1","name":"Aspirin, plain","smiles":"CC(=O)Oc1ccccc1C(=O)O"}},' +
            '{"record_id":"r2","status":"not_found","data":{"id":"","name":"two\nlines","smiles":"C"},"error_message":"No entry for \"x\""},' +
            '{"record_id":"#r3","status":"created","data":{"id":"CMP-3","name":"Ünïcödé \uD83D\uDCC4","smiles":"F/C=C/F"}}]}')
    }

    It 'sends every other column as data by default, and reads RecordId/ErrorMessage headers in any case' {
        $csv = New-Csv 'default.csv' "RECORDID;Status;Weight;ErrorMessage`nr1;matched;180.2;`n"
        Submit-KalRegistrationResult $script:Operation $script:File -LiteralPath $csv -Delimiter ';'
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeExactly '{"status":"success","records":[{"record_id":"r1","status":"matched","data":{"Weight":"180.2"}}]}'
    }

    It 'reads -Encoding when the file has no BOM' {
        $csv = New-Csv 'latin1.csv' "record_id,status,name`nr1,matched,Café`n" ([Text.Encoding]::Latin1)
        Submit-KalRegistrationResult $script:Operation $script:File -Path $csv -Encoding latin1
        (Get-TestSubmittedBody $script:Sandbox) | Should -BeExactly '{"status":"success","records":[{"record_id":"r1","status":"matched","data":{"name":"Café"}}]}'
    }

    It 'sends a 10 MB value' {
        $value = 'x' * 10MB
        $csv = New-Csv 'big.csv' "record_id,status,blob`nr1,matched,$value`n"
        Submit-KalRegistrationResult $script:Operation $script:File -Path $csv
        $expected = '{"status":"success","records":[{"record_id":"r1","status":"matched","data":{"blob":"' + $value + '"}}]}'
        $submission = @(Invoke-Sandbox $script:Sandbox GET submissions)
        $submission[0].sha256 | Should -Be (Get-TestSha256 $expected)
    }
}

Describe 'Submit-KalRegistrationResult -Path: validation sends nothing' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'names the line of a duplicate id and of a missing status, counting lines inside quoted values' {
        $csv = New-Csv 'dup.csv' "record_id,status,note`nr1,matched,""a`nb""`nr2,,x`nr1,created,y`n"
        $problems = $null
        $terminating = $null
        try { Submit-KalRegistrationResult $script:Operation $script:File -Path $csv -ErrorVariable problems -ErrorAction SilentlyContinue } catch { $terminating = $_ }
        $outcome = [pscustomobject]@{
            Errors      = @($problems | Where-Object { $_.FullyQualifiedErrorId -match '^(RecordStatusMissing|DuplicateRecordId),' })
            Terminating = $terminating
        }
        $outcome.Errors.Count | Should -Be 2
        $outcome.Errors[0].FullyQualifiedErrorId | Should -Be 'RecordStatusMissing,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $outcome.Errors[0].Exception.Message | Should -BeLike "Line 4 of dup.csv: records``[1``] (record_id 'r2') has no status*"
        $outcome.Errors[1].FullyQualifiedErrorId | Should -Be 'DuplicateRecordId,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $outcome.Errors[1].Exception.Message | Should -BeLike "Line 5 of dup.csv: records``[2``] (record_id 'r1') repeats the record_id of records``[0``]*"
        $outcome.Terminating.FullyQualifiedErrorId | Should -BeLike 'RecordResultsInvalid,*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'refuses a file without a <Column> column before reading any row' -TestCases @(
        @{ Column = 'status'; Text = "record_id,id`nr1,1`n"; Arguments = @{} }
        @{ Column = 'record_id'; Text = "id,status`n1,matched`n"; Arguments = @{} }
        @{ Column = 'smiles'; Text = "record_id,status,id`nr1,matched,1`n"; Arguments = @{ DataProperty = 'id', 'smiles' } }
    ) {
        $csv = New-Csv 'missing.csv' $Text
        $thrown = { Submit-KalRegistrationResult $script:Operation $script:File -Path $csv @Arguments } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'ResultsFileColumnMissing,Kalbio.PowerShell.Commands.SubmitKalRegistrationResultCommand'
        $thrown.Exception.Message | Should -BeLike "missing.csv has no *$Column* column (its columns are: *). Nothing was sent.*"
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'checks -ExpectedRecordId, refuses an empty file, and a path that matches no file' {
        $csv = New-Csv 'ids.csv' "record_id,status`nr1,matched`n"
        { Submit-KalRegistrationResult $script:Operation $script:File -Path $csv -ExpectedRecordId r1, r2 } | Should -Throw -ErrorId 'RecordIdsNotAsExpected,*'
        $empty = New-Csv 'empty.csv' "record_id,status`n"
        { Submit-KalRegistrationResult $script:Operation $script:File -Path $empty } | Should -Throw -ErrorId 'NoRecordResults,*'
        { Submit-KalRegistrationResult $script:Operation $script:File -Path (Join-Path $TestDrive 'none*.csv') } | Should -Throw -ErrorId 'ResultsFileNotFound,*'
        { Submit-KalRegistrationResult $script:Operation $script:File -Path $csv -Encoding nonesuch } | Should -Throw -ErrorId 'InvalidEncoding,*'
        (Get-TestOperationRequest $script:Sandbox) | Should -BeNullOrEmpty
    }

    It 'does not load the CSV library at Import-Module, only when a file is read, and then in a load context of its own' {
        $csv = New-Csv 'load.csv' "record_id,status`nr1,matched`n"
        $output = Invoke-ChildPwsh -Script @'
param($ModulePath, $Csv)
function Get-Loaded { @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Sylvan.Data.Csv' }) }
Import-Module $ModulePath
"import: $((Get-Loaded).Count)"
Submit-KalRegistrationResult op f -Path $Csv -WhatIf
$loaded = Get-Loaded
"path: $($loaded.Count)"
"default context: $([Runtime.Loader.AssemblyLoadContext]::GetLoadContext($loaded[0]) -eq [Runtime.Loader.AssemblyLoadContext]::Default)"
"from: $($loaded[0].Location)"
'@ -ArgumentList $env:KALBIO_TEST_MODULE, $csv
        $output | Should -Contain 'import: 0'
        $output | Should -Contain 'path: 1'
        # Not in the default context, where another module's copy of another version would clash with it.
        $output | Should -Contain 'default context: False'
        $output | Should -Contain "from: $(Join-Path $env:KALBIO_TEST_MODULE 'Dependencies/Sylvan.Data.Csv.dll')"
    }

    It "reads a file while another module's Sylvan.Data.Csv of another version is loaded <When>" -TestCases @(
        @{ When = 'before the module'; Before = $true }
        @{ When = 'after the module has read a file'; Before = $false }
    ) {
        # Another module's copy: an assembly of the same name at version 1.0.0.0, loaded into the default context.
        # Built with the Roslyn that PowerShell ships for Add-Type, since Add-Type cannot choose an assembly's name.
        $other = Join-Path $TestDrive "other-$Before"
        $null = New-Item -ItemType Directory -Path $other
        Add-Type -TypeDefinition 'public static class KalbioTestRoslynLoaded { }'
        $source = '[assembly: System.Reflection.AssemblyVersion("1.0.0.0")] namespace Sylvan.Data.Csv { public static class OtherModulesCopy { public static string Name => "other"; } }'
        $runtime = [IO.Path]::GetDirectoryName([object].Assembly.Location)
        $references = @([object].Assembly.Location, (Join-Path $runtime 'System.Runtime.dll')) | ForEach-Object { [Microsoft.CodeAnalysis.MetadataReference]::CreateFromFile($_) }
        $compilation = [Microsoft.CodeAnalysis.CSharp.CSharpCompilation]::Create('Sylvan.Data.Csv',
            [Microsoft.CodeAnalysis.SyntaxTree[]] @([Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree]::ParseText($source)),
            [Microsoft.CodeAnalysis.MetadataReference[]] $references,
            [Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions]::new([Microsoft.CodeAnalysis.OutputKind]::DynamicallyLinkedLibrary))
        $stream = [IO.File]::Create((Join-Path $other 'Sylvan.Data.Csv.dll'))
        try { $built = $compilation.Emit($stream) } finally { $stream.Dispose() }
        $built.Success | Should -BeTrue -Because ($built.Diagnostics -join '; ')
        $csv = New-Csv "clash-$Before.csv" "record_id,status,name`nr1,matched,""a, quoted"" value`n"
        $output = Invoke-ChildPwsh -Script @'
param($ModulePath, $Csv, $Other, $Before)
$loadOther = { [void][Reflection.Assembly]::LoadFrom((Join-Path $Other 'Sylvan.Data.Csv.dll')); "other: $([Sylvan.Data.Csv.OtherModulesCopy]::Name)" }
if ($Before -eq 'True') { & $loadOther }
Import-Module $ModulePath
if ($Before -ne 'True') { Submit-KalRegistrationResult op f -Path $Csv -WhatIf; & $loadOther }
Submit-KalRegistrationResult op f -Path $Csv -WhatIf -ErrorAction Stop
$versions = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Sylvan.Data.Csv' } | ForEach-Object { $_.GetName().Version.ToString() }
"versions: $(($versions | Sort-Object) -join ', ')"
'@ -ArgumentList $env:KALBIO_TEST_MODULE, $csv, $other, $Before
        $output | Should -Contain 'other: other'
        $output | Should -Contain 'versions: 1.0.0.0, 1.4.4.0'
    }
}

Describe 'Submit-KalRegistrationResult -Path: Ctrl+C mid-file' {
    BeforeEach { Reset-TestRegistration $script:Sandbox $script:Operation $script:File }

    It 'stops reading, sends nothing and leaves no spool file (<Format>)' -Skip:(-not $IsLinux) -TestCases @(
        @{ Format = 'CSV'; Name = 'rows.csv'; Header = 'record_id,status,value'; Row = { param($i, $value) "r$i,matched,$value" } }
        @{ Format = 'JSON Lines'; Name = 'rows.jsonl'; Header = ''; Row = { param($i, $value) "{""record_id"":""r$i"",""status"":""matched"",""data"":{""value"":""$value""}}" } }
    ) {
        $temp = Join-Path $TestDrive "tmp-$Name"
        $null = New-Item -ItemType Directory -Path $temp
        # A named pipe as the file: the test decides where the file "ends", so Ctrl+C surely comes mid-file.
        $fifo = Join-Path $TestDrive $Name
        & mkfifo $fifo
        $savedTemp = $env:TMPDIR
        $env:TMPDIR = $temp
        $env:KALBIO_SPOOL_THRESHOLD = '65536'
        $ps = [powershell]::Create()
        $writer = $null
        try {
            $null = $ps.AddScript("Import-Module '$env:KALBIO_TEST_MODULE'
                Connect-KalApi -ClientId '$($script:Sandbox.ClientId)' -ClientSecret (ConvertTo-SecureString '$($script:Sandbox.ClientSecret)' -AsPlainText -Force) -BaseUri '$($script:Sandbox.Uri)'
                Submit-KalRegistrationResult $($script:Operation) $($script:File) -LiteralPath '$fifo'")
            $run = $ps.BeginInvoke()
            $writer = [IO.StreamWriter]::new($fifo)
            $writer.WriteLine($Header)
            foreach ($i in 1..20000) { $writer.WriteLine((& $Row $i ('v' * 20))) }
            $writer.Flush()
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            do {
                Start-Sleep -Milliseconds 50
                $open = @(Get-OpenSpoolFile $PID | Where-Object { $_ -like "$temp/kalbio-results-*" })
            } until ($open.Count -gt 0 -or [DateTime]::UtcNow -gt $deadline)
            $open.Count | Should -Be 1 -Because 'the body is spooled while the file is read'

            $stopping = $ps.BeginStop($null, $null)
            # More rows, until the reader has seen the stop and closed the file (then writing fails: a broken pipe).
            try {
                foreach ($i in 20001..40000) { $writer.WriteLine((& $Row $i 'x')) }
                $writer.Dispose()
            } catch [IO.IOException] { }
            $writer = $null
            $stopping.AsyncWaitHandle.WaitOne(30000) | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            Get-OpenSpoolFile $PID | Should -BeNullOrEmpty
            @(Get-ChildItem -LiteralPath $temp -Force) | Should -BeNullOrEmpty
        } finally {
            if ($writer) { try { $writer.Dispose() } catch [IO.IOException] { } }
            $ps.Dispose()
            $env:TMPDIR = $savedTemp
            Remove-Item Env:KALBIO_SPOOL_THRESHOLD -ErrorAction SilentlyContinue
        }
        (Get-TestOperationRequest $script:Sandbox) | Where-Object path -Like '*/results' | Should -BeNullOrEmpty
    }
}
