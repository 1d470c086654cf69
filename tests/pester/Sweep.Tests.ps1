# The polling sweep of examples/Invoke-RegistrationWorkflow.ps1 (-PollOperationId, -PollIntervalSec, -Once), and how
# either mode resumes a registration a killed processor left mid-way, end to end: the example runs in a child pwsh
# that imports the built module, against an out-of-process sandbox.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
    $script:Example = Join-Path $script:Root 'examples/Invoke-RegistrationWorkflow.ps1'
    $script:Sandbox = Start-TestSandbox
    # Two rows the registry knows (aspirin, caffeine) and one it does not.
    $script:GoodCsv = "record_id,smiles`nr1,CC(=O)OC1=CC=CC=C1C(=O)O`nr2,CN1C=NC2=C1C(=O)N(C(=O)N2C)C`nr3,C1CC1`n"

    # Its webhook event carries the file's record ids, as Kaleidoscope's does.
    function Add-SandboxFile([string] $FileId, [string] $Content = $script:GoodCsv) {
        $recordIds = @($Content | ConvertFrom-Csv | ForEach-Object record_id)
        Invoke-Sandbox $script:Sandbox POST files @{ file_id = $FileId; file_name = "$FileId.csv"; content = $Content; record_ids = $recordIds } | Out-Null
    }

    # Starts the example in a child pwsh with these parameters (plus the registry, the sandbox and -WorkFolder).
    # -Command, not -File: -File cannot pass a list such as several operation ids. A script block's text is passed
    # as an expression that the child evaluates (for an object such as a certificate).
    function Start-Workflow([hashtable] $Parameters, [string] $WorkFolder = (Join-Path $TestDrive 'work')) {
        $quote = { param($text) "'" + ("$text" -replace "'", "''") + "'" }
        $all = @{ RegistryPath = (Join-Path $script:Root 'examples/registry.csv'); BaseUri = $script:Sandbox.Uri; WorkFolder = $WorkFolder; InformationAction = 'Continue' } + $Parameters
        $text = foreach ($name in $all.Keys) {
            if ($all[$name] -is [switch]) { "-$name" } elseif ($all[$name] -is [scriptblock]) { "-$name ($($all[$name]))" } else { "-$name " + (@($all[$name] | ForEach-Object { & $quote $_ }) -join ', ') }
        }
        $workflow = Start-ChildPwsh -Command "& $(& $quote $script:Example) $($text -join ' ')" -Environment @{
            PSModulePath                   = (Split-Path -Parent $env:KALBIO_TEST_MODULE) + [IO.Path]::PathSeparator + $env:PSModulePath
            KALEIDOSCOPE_API_CLIENT_ID     = $script:Sandbox.ClientId
            KALEIDOSCOPE_API_CLIENT_SECRET = $script:Sandbox.ClientSecret
        }
        $script:Started.Add($workflow)
        $workflow
    }
    $script:Started = [Collections.Generic.List[object]]::new()

    # Kills what a test started and left running (after a failure).
    function Stop-LeftoverWorkflows {
        foreach ($workflow in $script:Started) {
            if (-not $workflow.Process.HasExited) { $workflow.Process.Kill($true) }
        }
        $script:Started.Clear()
    }

    function Wait-Workflow($Workflow, [int] $TimeoutSec = 120) {
        if (-not $Workflow.Process.WaitForExit($TimeoutSec * 1000)) {
            $Workflow.Process.Kill($true)
            throw "The workflow did not exit within $TimeoutSec s."
        }
        $Workflow.Process.WaitForExit()
        [pscustomobject]@{ ExitCode = $Workflow.Process.ExitCode; Output = $Workflow.Output.Result; Errors = $Workflow.Errors.Result }
    }

    function Wait-Until([scriptblock] $Condition, [int] $TimeoutSec = 60, [string] $Because) {
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Waited $TimeoutSec s in vain: $Because" }
            Start-Sleep -Milliseconds 100
        }
    }

    # Registers a file whose download the sandbox holds back for a minute, so a processor holds its lock meanwhile.
    function Add-SlowRegistration([string] $OperationId, [string] $FileId) {
        Add-SandboxFile $FileId
        Register-KalFile -OperationId $OperationId -FileId $FileId -ErrorAction Stop | Out-Null
        Invoke-Sandbox $script:Sandbox POST faults @{ path_prefix = "/files/$FileId"; delay_ms = 60000 } | Out-Null
    }

    function Wait-Downloading([string] $FileId, [string] $WorkFolder) {
        Wait-Until { Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -EQ "/files/$FileId" } -Because 'the processor should be downloading'
        @(Get-ChildItem -LiteralPath (Join-Path $WorkFolder '.locks') -Filter *.lock).Count | Should -Be 1 -Because 'it holds the lock while it works'
    }

    # Starts the example in webhook mode for one event, has the sandbox deliver that event, and waits for the exit.
    function Invoke-WorkflowEvent([string] $OperationId, [string] $FileId) {
        $port = Get-FreePort
        $listener = Start-Workflow @{ Port = $port; Count = 1; TimeoutSec = 60 }
        try {
            Wait-Until { Test-LocalPortListening $port } -Because "the workflow should listen on port $port"
            # The example answers only once the registration is final, which can take its retries and waits (over 10 s).
            $send = @{ operation_id = $OperationId; file_id = $FileId; url = "http://127.0.0.1:$port/"; timeout_seconds = 60 }
            (Invoke-Sandbox $script:Sandbox POST webhooks/send $send).status | Should -Be 202
            Wait-Workflow $listener
        } finally {
            if (-not $listener.Process.HasExited) { $listener.Process.Kill($true) }
        }
    }

    # Starts the example in webhook mode with a spool and no -Count, and has the sandbox deliver the event (202, spooled).
    function Start-SpooledWorkflowEvent([string] $OperationId, [string] $FileId, [string] $Spool, [string] $WorkFolder) {
        $port = Get-FreePort
        $workflow = Start-Workflow @{ Port = $port; SpoolPath = $Spool } -WorkFolder $WorkFolder
        Wait-Until { Test-LocalPortListening $port } -Because "the workflow should listen on port $port"
        (Invoke-Sandbox $script:Sandbox POST webhooks/send @{ operation_id = $OperationId; file_id = $FileId; url = "http://127.0.0.1:$port/" }).status | Should -Be 202
        $workflow
    }

    function Get-Submissions([string] $OperationId, [string] $FileId) {
        @(Invoke-Sandbox $script:Sandbox GET submissions | Where-Object { $_.operation_id -eq $OperationId -and $_.file_id -eq $FileId })
    }

    function Get-StatusPushes([string] $OperationId, [string] $FileId) {
        @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object { $_.method -eq 'POST' -and $_.path -eq "/operations/$OperationId/registration_files/$FileId/status" })
    }

    # Registers a file whose first results POST the sandbox holds for a minute: a processor that gets there has
    # pushed its status and waits, so the test can kill it between the status push and the results.
    function Add-HeldRegistration([string] $OperationId, [string] $FileId, [string] $Content = $script:GoodCsv) {
        Add-SandboxFile $FileId $Content
        Register-KalFile -OperationId $OperationId -FileId $FileId -ErrorAction Stop | Out-Null
        Invoke-Sandbox $script:Sandbox POST faults @{ method = 'POST'; path_prefix = "/operations/$OperationId/register/$FileId/results"; delay_ms = 60000 } | Out-Null
    }

    # Waits until a processor is sending the (held) results, and checks the status it pushed before.
    function Wait-Submitting([string] $OperationId, [string] $FileId, [string] $Pushed) {
        Wait-Until { Invoke-Sandbox $script:Sandbox GET requests | Where-Object { $_.method -eq 'POST' -and $_.path -eq "/operations/$OperationId/register/$FileId/results" } } -Because 'the processor should be submitting its results'
        (Get-KalRegistration $OperationId $FileId).Status | Should -Be $Pushed -Because 'the status is pushed before the results'
    }

    # Kills the processor with kill -9 while it waits for its results POST: the registration stays as it pushed it.
    function Stop-WhileSubmitting($Workflow, [string] $OperationId, [string] $FileId, [string] $Pushed) {
        Wait-Submitting $OperationId $FileId $Pushed
        & kill -9 $Workflow.Process.Id
        $Workflow.Process.WaitForExit()
        (Get-KalRegistration $OperationId $FileId).Status | Should -Be $Pushed
        (Get-Submissions $OperationId $FileId).Count | Should -Be 0 -Because 'the killed results POST never lands'
    }

    $handler = [Net.Http.SocketsHttpHandler]::new()
    $handler.UseProxy = $false
    $script:Http = [Net.Http.HttpClient]::new($handler)
    $script:Http.Timeout = [TimeSpan]::FromSeconds(60)

    function Send-Json([string] $Uri, [string] $Json, [Net.Http.HttpClient] $Client = $script:Http) {
        $Client.PostAsync($Uri, [Net.Http.StringContent]::new($Json, [Text.Encoding]::UTF8, 'application/json'))
    }
}

AfterAll {
    $script:Http.Dispose()
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'The polling sweep of examples/Invoke-RegistrationWorkflow.ps1' {
    BeforeEach {
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Connect-TestSandbox $script:Sandbox
    }
    AfterEach { Stop-LeftoverWorkflows }

    It 'Get-KalRegistration -Status pending is the work queue: a registration is pending from Register-KalFile until a status or results arrive' {
        Add-SandboxFile q1; Add-SandboxFile q2; Add-SandboxFile q3
        'q1', 'q2', 'q3' | ForEach-Object { Register-KalFile -OperationId op-queue -FileId $_ -ErrorAction Stop | Out-Null }
        (Get-KalRegistration op-queue -Status pending).FileId | Should -Be 'q1', 'q2', 'q3'

        Set-KalRegistrationStatus op-queue q2 -Status validated
        Submit-KalRegistrationResult op-queue q3 -Status error -ErrorMessage 'unreadable'
        (Get-KalRegistration op-queue -Status pending).FileId | Should -Be 'q1'
        (Get-KalRegistration op-queue -Status validated, failed).FileId | Should -Be 'q2', 'q3'
    }

    It 'Get-KalRegistration -Status completes the six states and refuses another before sending anything' {
        $completion = TabExpansion2 -inputScript 'Get-KalRegistration op -Status ' -cursorColumn 'Get-KalRegistration op -Status '.Length
        $completion.CompletionMatches.CompletionText | Sort-Object | Should -Be ('pending', 'validated', 'validation_failed', 'submitted', 'completed', 'failed' | Sort-Object)

        Invoke-Sandbox $script:Sandbox DELETE requests | Out-Null
        $thrown = { Get-KalRegistration op-queue -Status pending, waiting } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be 'ParameterArgumentValidationError,Kalbio.PowerShell.Commands.GetKalRegistrationCommand'
        "$thrown" | Should -BeLike '*waiting*'
        @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -Like '/operations/*').Count | Should -Be 0
    }

    It 'with -Once processes every pending registration of each operation like an event, skips the rest, goes on after a failure and exits 1' {
        Add-SandboxFile bad -Content "record_id,name`nr1,Aspirin`n"
        Add-SandboxFile broken
        Add-SandboxFile good-1; Add-SandboxFile good-2; Add-SandboxFile other-1; Add-SandboxFile busy
        # The failing ones first: the registrations after them must still be processed.
        'bad', 'broken', 'good-1', 'good-2', 'busy' | ForEach-Object { Register-KalFile -OperationId op-a -FileId $_ -ErrorAction Stop | Out-Null }
        Register-KalFile -OperationId op-b -FileId other-1 -ErrorAction Stop | Out-Null
        Set-KalRegistrationStatus op-a busy -Status submitted -Message 'taken by someone else'
        Invoke-Sandbox $script:Sandbox POST faults @{ path_prefix = '/files/broken'; status = 403; times = 100; body = '{"code":"forbidden","message":"No access"}' } | Out-Null

        $run = Wait-Workflow (Start-Workflow @{ PollOperationId = 'op-a', 'op-b'; Once = [switch] $true })

        $run.ExitCode | Should -Be 1 -Because $run.Errors
        $run.Errors | Should -Match 'File bad failed validation: the file has no smiles column'
        $run.Output | Should -Match 'Sweep of operation op-a: 4 pending registrations\.'
        $run.Output | Should -Match 'Sweep of operation op-b: 1 pending registration\.'
        $run.Errors | Should -Match '2 failures \(5 registrations processed\)'

        foreach ($file in @{ Op = 'op-a'; File = 'good-1' }, @{ Op = 'op-a'; File = 'good-2' }, @{ Op = 'op-b'; File = 'other-1' }) {
            $registration = Get-KalRegistration -OperationId $file.Op -FileId $file.File
            $registration.Status | Should -Be 'completed'
            $registration.Message | Should -Be '2 of 3 records matched the registry.'
            $registration.RecordErrors.SourceRecordId | Should -Be 'r3'
            $submissions = Get-Submissions $file.Op $file.File
            $submissions.Count | Should -Be 1
            $body = $submissions[0].body | ConvertFrom-Json
            $body.records.record_id | Should -Be 'r1', 'r2', 'r3' -Because 'a sweep takes the record ids from the file'
            $body.records.status | Should -Be 'matched', 'matched', 'not_found'
            $body.records[0].data.id | Should -Be 'CMP-000101'
            (Get-StatusPushes $file.Op $file.File).body | Should -Be '{"status":"validated","message":"3 records checked."}'
        }

        $bad = Get-KalRegistration op-a bad
        $bad.Status | Should -Be 'failed'
        $bad.Message | Should -Be 'Validation failed: the file has no smiles column.'
        $broken = Get-KalRegistration op-a broken
        $broken.Status | Should -Be 'failed'
        $broken.Message | Should -Match '^Processing failed: .*No access'
        (Get-Submissions op-a broken).Count | Should -Be 1

        (Get-KalRegistration op-a busy).Status | Should -Be 'submitted' -Because 'a registration in a final state is not processed'
        (Get-Submissions op-a busy).Count | Should -Be 0
        (Get-StatusPushes op-a busy).Count | Should -Be 1 -Because 'only the test pushed its status'
    }

    It 'with -Once exits 0 when every registration succeeded, and a second sweep processes nothing again' {
        Add-SandboxFile once-1; Add-SandboxFile once-2
        'once-1', 'once-2' | ForEach-Object { Register-KalFile -OperationId op-once -FileId $_ -ErrorAction Stop | Out-Null }

        $first = Wait-Workflow (Start-Workflow @{ PollOperationId = 'op-once'; Once = [switch] $true })
        $first.ExitCode | Should -Be 0 -Because $first.Errors
        $first.Output | Should -Match 'Done: 2 registrations processed\.'
        (Get-KalRegistration op-once).Status | Should -Be 'completed', 'completed'

        $second = Wait-Workflow (Start-Workflow @{ PollOperationId = 'op-once'; Once = [switch] $true })
        $second.ExitCode | Should -Be 0 -Because $second.Errors
        $second.Output | Should -Match 'Sweep of operation op-once: 0 pending registrations\.'
        $second.Output | Should -Match 'Done: 0 registrations processed\.'
        (Get-Submissions op-once once-1).Count | Should -Be 1
        (Get-Submissions op-once once-2).Count | Should -Be 1
    }

    It 'two processors started at once on the same operation process each registration exactly once' {
        $files = 1..8 | ForEach-Object { "twin-$_" }
        foreach ($file in $files) {
            Add-SandboxFile $file
            Register-KalFile -OperationId op-twin -FileId $file -ErrorAction Stop | Out-Null
        }

        $work = Join-Path $TestDrive 'shared-work'
        $one = Start-Workflow @{ PollOperationId = 'op-twin'; Once = [switch] $true } -WorkFolder $work
        $two = Start-Workflow @{ PollOperationId = 'op-twin'; Once = [switch] $true } -WorkFolder $work
        $runs = (Wait-Workflow $one), (Wait-Workflow $two)

        foreach ($run in $runs) { $run.ExitCode | Should -Be 0 -Because $run.Errors }
        foreach ($file in $files) {
            (Get-KalRegistration op-twin $file).Status | Should -Be 'completed'
            (Get-Submissions op-twin $file).Count | Should -Be 1 -Because "$file must be submitted once"
            (Get-StatusPushes op-twin $file).Count | Should -Be 1 -Because "$file must be validated once"
        }
        # Each processor says what it did; between them, every registration exactly once.
        $done = $runs | ForEach-Object { [int]([regex]::Match($_.Output, 'Done: (\d+) registration').Groups[1].Value) }
        ($done | Measure-Object -Sum).Sum | Should -Be 8
        Get-ChildItem -LiteralPath (Join-Path $work '.locks') -Filter *.lock | Should -BeNullOrEmpty -Because 'released locks are deleted'
    }

    It 'with a short -PollIntervalSec keeps sweeping and processes a registration made after the first sweep' {
        Add-SandboxFile early; Add-SandboxFile late
        Register-KalFile -OperationId op-loop -FileId early -ErrorAction Stop | Out-Null

        $loop = Start-Workflow @{ PollOperationId = 'op-loop'; PollIntervalSec = 1 }
        try {
            Wait-Until { (Get-KalRegistration op-loop early).Status -eq 'completed' } -Because 'the first sweep should process early'
            Register-KalFile -OperationId op-loop -FileId late -ErrorAction Stop | Out-Null
            Wait-Until { (Get-KalRegistration op-loop late).Status -eq 'completed' } -Because 'a later sweep should process late'
            $loop.Process.HasExited | Should -BeFalse -Because 'without -Once the sweep goes on'
        } finally {
            if (-not $loop.Process.HasExited) { $loop.Process.Kill($true) }
            $loop.Process.WaitForExit()
        }
        (Get-Submissions op-loop early).Count | Should -Be 1
        (Get-Submissions op-loop late).Count | Should -Be 1
    }

    It 'a processor killed with kill -9 while it holds a registration leaves no lock that stops the next sweep' {
        Add-SlowRegistration op-kill slow
        $work = Join-Path $TestDrive 'kill-work'

        $victim = Start-Workflow @{ PollOperationId = 'op-kill'; Once = [switch] $true } -WorkFolder $work
        try {
            Wait-Downloading slow $work
            & kill -9 $victim.Process.Id
            $victim.Process.WaitForExit()
        } finally {
            if (-not $victim.Process.HasExited) { $victim.Process.Kill($true) }
        }
        (Get-KalRegistration op-kill slow).Status | Should -Be 'pending'

        $next = Wait-Workflow (Start-Workflow @{ PollOperationId = 'op-kill'; Once = [switch] $true } -WorkFolder $work)
        $next.ExitCode | Should -Be 0 -Because $next.Errors
        $next.Output | Should -Match 'Done: 1 registration processed\.'
        (Get-KalRegistration op-kill slow).Status | Should -Be 'completed'
        (Get-Submissions op-kill slow).Count | Should -Be 1
    }

    It 'a sweep stopped with Ctrl+C (PowerShell.Stop) while it holds a registration releases its lock' {
        Add-SlowRegistration op-stop stopped
        $work = Join-Path $TestDrive 'stop-work'

        $savedPath = $env:PSModulePath
        $env:PSModulePath = (Split-Path -Parent $env:KALBIO_TEST_MODULE) + [IO.Path]::PathSeparator + $env:PSModulePath
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        $shell = [powershell]::Create($runspace)
        try {
            $credential = [pscredential]::new($script:Sandbox.ClientId, (New-TestSecret $script:Sandbox.ClientSecret))
            $null = $shell.AddCommand($script:Example).AddParameters(@{
                    RegistryPath = (Join-Path $script:Root 'examples/registry.csv'); BaseUri = $script:Sandbox.Uri; Credential = $credential
                    WorkFolder = $work; PollOperationId = 'op-stop'; Once = $true
                })
            $async = $shell.BeginInvoke()
            Wait-Downloading stopped $work
            $shell.Stop()
            $thrown = { $shell.EndInvoke($async) } | Should -Throw -PassThru
            $thrown.Exception.InnerException | Should -BeOfType ([Management.Automation.PipelineStoppedException])
        } finally {
            $shell.Dispose()
            $runspace.Dispose()
            $env:PSModulePath = $savedPath
        }

        Get-ChildItem -LiteralPath (Join-Path $work '.locks') -Filter *.lock | Should -BeNullOrEmpty -Because 'the stopped sweep released its lock'
        $next = Wait-Workflow (Start-Workflow @{ PollOperationId = 'op-stop'; Once = [switch] $true } -WorkFolder $work)
        $next.ExitCode | Should -Be 0 -Because $next.Errors
        (Get-KalRegistration op-stop stopped).Status | Should -Be 'completed'
    }

    It 'an event for a registration in a final state is skipped, as the sweep skips it' {
        Add-SandboxFile dup
        Register-KalFile -OperationId op-dup -FileId dup -ErrorAction Stop | Out-Null
        Submit-KalRegistrationResult op-dup dup -Status error -ErrorMessage 'handled elsewhere'

        $run = Invoke-WorkflowEvent op-dup dup
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $run.Output | Should -Match 'Skipped file dup in operation op-dup: it is failed, which is final\.'
        $run.Output | Should -Match 'Done: 0 registrations processed\.'
        (Get-Submissions op-dup dup).Count | Should -Be 1 -Because 'only the test submitted'
        @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -EQ '/files/dup').Count | Should -Be 0
    }

    It 'in webhook mode, a registration whose state cannot be read for a moment is read again after a short wait and processed' {
        Add-SandboxFile unread
        Register-KalFile -OperationId op-unread -FileId unread -ErrorAction Stop | Out-Null
        # The event path reads the registration first; every attempt of that read (the first and 3 retries) is refused.
        Invoke-Sandbox $script:Sandbox POST faults @{ method = 'GET'; path_prefix = '/operations/op-unread/registrations'; status = 500; times = 4 } | Out-Null

        $run = Invoke-WorkflowEvent op-unread unread

        $run.ExitCode | Should -Be 0 -Because $run.Errors
        "$($run.Output)$($run.Errors)" | Should -Match 'The registration of file unread in operation op-unread is not finished \(its state could not be read\); trying again in 2 s \(attempt 2 of 4\)'
        $run.Output | Should -Match 'Done: 1 registration processed\.'
        (Get-KalRegistration op-unread unread).Status | Should -Be 'completed'
        (Get-Submissions op-unread unread).Count | Should -Be 1
    }

    It 'about_Kalbio says how to run it unattended, with parameters the example has' {
        $text = Get-Help about_Kalbio | Out-String
        foreach ($topic in 'RUNNING THE PROCESSOR UNATTENDED', '[Service]', 'Register-ScheduledTask', '-SpoolPath', '-Certificate', 'reverse proxy', 'Which mode to pick') {
            $text | Should -BeLike "*$topic*"
        }
        $parameters = (Get-Command $script:Example).Parameters.Keys
        # ExecStart with its backslash-continued lines, as systemd reads it.
        $execStart = [regex]::Match($text, '(?m)^\s*ExecStart=(?:.*\\\r?\n)*.*$').Value
        $used = [regex]::Matches(($execStart -split 'Invoke-RegistrationWorkflow\.ps1', 2)[1], '(?<=\s)-(\w+)').ForEach({ $_.Groups[1].Value })
        $used | Should -Contain 'PollOperationId'
        foreach ($name in $used) { $parameters | Should -Contain $name }
    }

    It 'Get-Help of the example describes every parameter and shows the sweep' {
        $help = Get-Help $script:Example -Full
        $help.Synopsis | Should -BeLike 'Processes Kaleidoscope registrations*'
        $common = [Management.Automation.PSCmdlet]::CommonParameters
        foreach ($name in (Get-Command $script:Example).Parameters.Keys | Where-Object { $_ -notin $common }) {
            (Get-Help $script:Example -Parameter $name).Description.Text | Should -Not -BeNullOrEmpty -Because "-$name needs help"
        }
        ($help.Examples.Example.Code -join "`n") | Should -BeLike '*-PollOperationId $operationId -Once*'
    }

    It 'refuses -Once or -PollIntervalSec together with the webhook parameters' {
        $registry = Join-Path $script:Root 'examples/registry.csv'
        { & $script:Example -RegistryPath $registry -Port 8080 -Once } | Should -Throw -ErrorId 'AmbiguousParameterSet,Invoke-RegistrationWorkflow.ps1'
        { & $script:Example -RegistryPath $registry -PollOperationId op -Count 1 } | Should -Throw -ErrorId 'AmbiguousParameterSet,Invoke-RegistrationWorkflow.ps1'
    }
}

Describe 'Resuming a registration that a processor killed with kill -9 left mid-way (after its status push, before its results)' {
    BeforeEach {
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Connect-TestSandbox $script:Sandbox
    }
    AfterEach { Stop-LeftoverWorkflows }

    It 'with -SpoolPath, the event answered 202 is processed again by the restarted processor: completed, with results once' {
        Add-HeldRegistration op-spool held
        $work = Join-Path $TestDrive 'spool-work'
        $spool = Join-Path $TestDrive 'spool'
        $victim = Start-SpooledWorkflowEvent op-spool held -Spool $spool -WorkFolder $work
        Stop-WhileSubmitting $victim op-spool held -Pushed validated
        @(Get-ChildItem -LiteralPath $spool -Filter *.event.json).Count | Should -Be 1 -Because 'the event stays spooled'

        $next = Wait-Workflow (Start-Workflow @{ Port = (Get-FreePort); SpoolPath = $spool; Count = 1; TimeoutSec = 60 } -WorkFolder $work)

        $next.ExitCode | Should -Be 0 -Because $next.Errors
        (Get-KalRegistration op-spool held).Status | Should -Be 'completed'
        $submissions = Get-Submissions op-spool held
        $submissions.Count | Should -Be 1
        ($submissions[0].body | ConvertFrom-Json).records.record_id | Should -Be 'r1', 'r2', 'r3'
        $next.Output | Should -Match 'Resuming file held in operation op-spool: a processor that stopped mid-way left it validated'
        (Get-StatusPushes op-spool held).Count | Should -Be 2 -Because 'validated is pushed again, which is harmless'
        Get-ChildItem -LiteralPath $spool -Filter *.event.json | Should -BeNullOrEmpty
        # The listener says once where it listens; the example adds no line of its own.
        $listening = @($next.Output -split '\r?\n' | Where-Object { $_ -match 'Listening for' })
        $listening | Should -HaveCount 1
        $listening[0] | Should -BeLike 'Listening for webhook events at http://127.0.0.1:*/ (any path) (plain HTTP, spooling to *spool)*'
    }

    It 'without a spool, the event was never answered 2xx, and its redelivery is processed: completed, with results once' {
        Add-HeldRegistration op-again held
        $work = Join-Path $TestDrive 'again-work'
        $port = Get-FreePort
        $victim = Start-Workflow @{ Port = $port } -WorkFolder $work
        Wait-Until { Test-LocalPortListening $port } -Because "the workflow should listen on port $port"
        $sending = Send-Json "$($script:Sandbox.Uri)/_sandbox/webhooks/send" (@{ operation_id = 'op-again'; file_id = 'held'; url = "http://127.0.0.1:$port/" } | ConvertTo-Json)
        Stop-WhileSubmitting $victim op-again held -Pushed validated
        [int]$sending.GetAwaiter().GetResult().StatusCode | Should -Be 502 -Because 'the sandbox reports the delivery failed'
        $delivery = @(Invoke-Sandbox $script:Sandbox GET webhooks)
        $delivery | Should -HaveCount 1
        $delivery[0].status | Should -BeNullOrEmpty -Because 'the connection died without an answer'

        # The sandbox's sender does not retry; Kaleidoscope, which saw no 2xx, delivers the same event again.
        $port = Get-FreePort
        $next = Start-Workflow @{ Port = $port; Count = 1; TimeoutSec = 60 } -WorkFolder $work
        Wait-Until { Test-LocalPortListening $port } -Because "the workflow should listen on port $port"
        [int](Send-Json "http://127.0.0.1:$port/" $delivery[0].body).GetAwaiter().GetResult().StatusCode | Should -Be 202
        $run = Wait-Workflow $next

        $run.ExitCode | Should -Be 0 -Because $run.Errors
        (Get-KalRegistration op-again held).Status | Should -Be 'completed'
        (Get-Submissions op-again held).Count | Should -Be 1
        $run.Output | Should -Match 'Resuming file held in operation op-again'
    }

    It 'a sweep skips it while the processor holding its lock lives, and after the kill the next -Once sweep completes it, with results once' {
        Add-HeldRegistration op-resume held
        $work = Join-Path $TestDrive 'resume-work'
        $victim = Start-Workflow @{ PollOperationId = 'op-resume'; Once = [switch] $true } -WorkFolder $work
        Wait-Submitting op-resume held -Pushed validated
        $meanwhile = Wait-Workflow (Start-Workflow @{ PollOperationId = 'op-resume'; Once = [switch] $true } -WorkFolder $work)
        $meanwhile.ExitCode | Should -Be 0 -Because $meanwhile.Errors
        (Get-StatusPushes op-resume held).Count | Should -Be 1 -Because 'the live processor is left alone'
        $meanwhile.Output | Should -Match 'Skipped file held in operation op-resume: another processor holds its lock'
        Stop-WhileSubmitting $victim op-resume held -Pushed validated

        $next = Wait-Workflow (Start-Workflow @{ PollOperationId = 'op-resume'; Once = [switch] $true } -WorkFolder $work)

        $next.ExitCode | Should -Be 0 -Because $next.Errors
        $registration = Get-KalRegistration op-resume held
        $registration.Status | Should -Be 'completed'
        $registration.Message | Should -Be '2 of 3 records matched the registry.'
        (Get-Submissions op-resume held).Count | Should -Be 1
        $next.Output | Should -Match 'Sweep of operation op-resume: 0 pending registrations, 1 validated or validation_failed\.'
        $next.Output | Should -Match 'Done: 1 registration processed\.'
    }

    It 'a sweep killed between pushing validation_failed and its error result leaves it validation_failed; the next -Once sweep fails it, with one error result' {
        Add-HeldRegistration op-invalid held "record_id,name`nr1,Aspirin`n"
        $work = Join-Path $TestDrive 'invalid-work'
        Stop-WhileSubmitting (Start-Workflow @{ PollOperationId = 'op-invalid'; Once = [switch] $true } -WorkFolder $work) op-invalid held -Pushed validation_failed

        $next = Wait-Workflow (Start-Workflow @{ PollOperationId = 'op-invalid'; Once = [switch] $true } -WorkFolder $work)

        $registration = Get-KalRegistration op-invalid held
        $registration.Status | Should -Be 'failed'
        $registration.Message | Should -Be 'Validation failed: the file has no smiles column.'
        $submissions = Get-Submissions op-invalid held
        $submissions.Count | Should -Be 1
        ($submissions[0].body | ConvertFrom-Json).status | Should -Be 'error'
        $next.ExitCode | Should -Be 1 -Because 'the file fails validation again'
        $next.Errors | Should -Match 'File held failed validation: the file has no smiles column'
    }
}

Describe 'examples/Invoke-RegistrationWorkflow.ps1 -Certificate' {
    BeforeEach {
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Connect-TestSandbox $script:Sandbox
    }
    AfterEach { Stop-LeftoverWorkflows }

    It 'serves HTTPS with the certificate, says so once, and processes the event delivered over it' {
        $key = [Security.Cryptography.RSA]::Create(2048)
        $request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=kalbio-example', $key, 'SHA256', [Security.Cryptography.RSASignaturePadding]::Pkcs1)
        $names = [Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
        $names.AddIpAddress([Net.IPAddress]::Loopback)
        $request.CertificateExtensions.Add($names.Build())
        $certificate = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddMinutes(-5), [DateTimeOffset]::UtcNow.AddHours(1))
        $pfx = Join-Path $TestDrive 'listener.pfx'
        [IO.File]::WriteAllBytes($pfx, $certificate.Export('Pfx', 'pfx-password'))
        Add-SandboxFile tls
        Register-KalFile -OperationId op-tls -FileId tls -ErrorAction Stop | Out-Null

        $port = Get-FreePort
        $workflow = Start-Workflow @{ Port = $port; Path = '/kal/events'; Count = 1; TimeoutSec = 60; Certificate = [scriptblock]::Create("[System.Security.Cryptography.X509Certificates.X509Certificate2]::new('$pfx', 'pfx-password')") }
        # A client that trusts exactly this certificate, and no other.
        $handler = [Net.Http.SocketsHttpHandler]::new()
        $handler.UseProxy = $false
        $handler.SslOptions.CertificateChainPolicy = [Security.Cryptography.X509Certificates.X509ChainPolicy]@{ TrustMode = 'CustomRootTrust'; RevocationMode = 'NoCheck' }
        $handler.SslOptions.CertificateChainPolicy.CustomTrustStore.Add($certificate)
        $client = [Net.Http.HttpClient]::new($handler)
        try {
            Wait-Until { Test-LocalPortListening $port } -Because "the workflow should listen on port $port"
            $delivered = @{ event_type = 'registration_submitted'; event_id = [guid]::NewGuid().ToString(); operation_id = 'op-tls'; file_id = 'tls'; file_name = 'tls.csv'; file_url = "$($script:Sandbox.Uri)/files/tls"; record_ids = 'r1', 'r2', 'r3' }
            [int](Send-Json "https://127.0.0.1:$port/kal/events" ($delivered | ConvertTo-Json) -Client $client).GetAwaiter().GetResult().StatusCode | Should -Be 202
            $run = Wait-Workflow $workflow
        } finally {
            $client.Dispose()
        }

        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $listening = @($run.Output -split '\r?\n' | Where-Object { $_ -match 'Listening for' })
        $listening | Should -HaveCount 1
        $listening[0] | Should -BeLike "Listening for webhook events at https://127.0.0.1:$port/kal/events (HTTPS)*"
        (Get-KalRegistration op-tls tls).Status | Should -Be 'completed'
        (Get-Submissions op-tls tls).Count | Should -Be 1
    }
}

Describe 'examples/Invoke-RegistrationWorkflow.ps1 in webhook mode acknowledges an event only once its registration is final' {
    BeforeEach {
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Connect-TestSandbox $script:Sandbox
        Add-SandboxFile stuck
        Register-KalFile -OperationId op-stuck -FileId stuck -ErrorAction Stop | Out-Null
        # Every read of the registration fails, beyond the client's retries and the example's (Retry-After: 0 keeps
        # the client's own retries quick).
        Invoke-Sandbox $script:Sandbox POST faults @{ method = 'GET'; path_prefix = '/operations/op-stuck/registrations'; status = 500; retry_after = '0'; times = 1000 } | Out-Null
    }
    AfterEach { Stop-LeftoverWorkflows }

    It 'with -SpoolPath, an event whose registration cannot be read stays in the spool, the processor exits 1, and once the fault is gone a restart completes it' {
        $work = Join-Path $TestDrive 'stuck-work'
        $spool = Join-Path $TestDrive 'stuck-spool'
        $stuck = Start-SpooledWorkflowEvent op-stuck stuck -Spool $spool -WorkFolder $work

        $run = Wait-Workflow $stuck

        $run.ExitCode | Should -Be 1 -Because 'the processor stops rather than acknowledge an unprocessed event'
        # The error view wraps long messages into '| ' continued lines.
        ($run.Errors -replace '\s*\r?\n\s+\|\s*', ' ') | Should -Match 'The event for file stuck in operation op-stuck \(.+\) is not acknowledged: its registration is not finished after 4 attempts'
        @(Get-ChildItem -LiteralPath $spool -Filter *.event.json).Count | Should -Be 1 -Because 'the event stays spooled'
        Invoke-Sandbox $script:Sandbox DELETE faults | Out-Null
        (Get-KalRegistration op-stuck stuck).Status | Should -Be 'pending'
        @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -EQ '/files/stuck').Count | Should -Be 0

        $next = Wait-Workflow (Start-Workflow @{ Port = (Get-FreePort); SpoolPath = $spool; Count = 1; TimeoutSec = 60 } -WorkFolder $work)

        $next.ExitCode | Should -Be 0 -Because $next.Errors
        (Get-KalRegistration op-stuck stuck).Status | Should -Be 'completed'
        (Get-Submissions op-stuck stuck).Count | Should -Be 1
        Get-ChildItem -LiteralPath $spool -Filter *.event.json | Should -BeNullOrEmpty
    }

    It 'without a spool, the delivery of an event whose registration cannot be read is not answered 2xx, and the processor exits 1' {
        $port = Get-FreePort
        $stuck = Start-Workflow @{ Port = $port } -WorkFolder (Join-Path $TestDrive 'nospool-work')
        Wait-Until { Test-LocalPortListening $port } -Because "the workflow should listen on port $port"
        $delivery = @{ event_type = 'registration_submitted'; event_id = 'ev-stuck'; operation_id = 'op-stuck'; file_id = 'stuck'; file_name = 'stuck.csv'; record_ids = 'r1', 'r2', 'r3' } | ConvertTo-Json

        $answered = try { [int](Send-Json "http://127.0.0.1:$port/" $delivery).GetAwaiter().GetResult().StatusCode } catch [Net.Http.HttpRequestException] { 0 }
        $run = Wait-Workflow $stuck

        $answered | Should -Not -BeIn 200..299
        $run.ExitCode | Should -Be 1
        ($run.Errors -replace '\s*\r?\n\s+\|\s*', ' ') | Should -Match 'The event for file stuck in operation op-stuck \(ev-stuck\) is not acknowledged'
        Invoke-Sandbox $script:Sandbox DELETE faults | Out-Null
        (Get-KalRegistration op-stuck stuck).Status | Should -Be 'pending'
    }
}

Describe 'examples/Invoke-RegistrationWorkflow.ps1 in webhook mode after a delivery that is not an event' {
    BeforeEach {
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Connect-TestSandbox $script:Sandbox
    }
    AfterEach { Stop-LeftoverWorkflows }

    It 'answers a body without file_id 400, reports it, and processes the next delivery to completed' {
        Add-SandboxFile after-bad
        Register-KalFile -OperationId op-after -FileId after-bad -ErrorAction Stop | Out-Null
        $port = Get-FreePort
        $workflow = Start-Workflow @{ Port = $port; Count = 1; TimeoutSec = 60 }
        Wait-Until { Test-LocalPortListening $port } -Because "the workflow should listen on port $port"

        $malformed = '{"event_type":"registration_submitted","event_id":"ev-bad","operation_id":"op-after","file_name":"x.csv","record_ids":["r1"]}'
        [int](Send-Json "http://127.0.0.1:$port/" $malformed).GetAwaiter().GetResult().StatusCode | Should -Be 400
        $workflow.Process.HasExited | Should -BeFalse -Because 'one malformed delivery must not stop the processor'
        (Invoke-Sandbox $script:Sandbox POST webhooks/send @{ operation_id = 'op-after'; file_id = 'after-bad'; url = "http://127.0.0.1:$port/" }).status | Should -Be 202
        $run = Wait-Workflow $workflow

        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $run.Errors | Should -Match 'file_id'
        (Get-KalRegistration op-after after-bad).Status | Should -Be 'completed'
        (Get-Submissions op-after after-bad).Count | Should -Be 1
    }
}
