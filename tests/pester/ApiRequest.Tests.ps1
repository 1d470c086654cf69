BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox
    $script:Fqid = ',Kalbio.PowerShell.Commands.InvokeKalApiRequestCommand'

    # What reached the API, the token requests left out. -Answered waits for the last status: the client can
    # finish reading a body before the server logs the request.
    function Get-ApiRequest {
        param([switch] $Answered)
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        do {
            $requests = @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -NE '/auth/oauth/token')
        } while ($Answered -and $requests.Count -and $requests[-1].status -eq 0 -and [DateTime]::UtcNow -lt $deadline)
        $requests
    }

    function Add-Fault([hashtable] $Fault) { Invoke-Sandbox $script:Sandbox POST faults $Fault | Out-Null }
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

# /programs and /echo/query are sandbox-only test resources (see src/Kalbio.Sandbox/TestResourceEndpoints.cs).
Describe 'Invoke-KalApiRequest' {
    BeforeEach {
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Connect-TestSandbox $script:Sandbox
    }

    It 'GET of an object returns one custom object with nested objects' {
        $program = Invoke-KalApiRequest GET programs/prg-1
        @($program).Count | Should -Be 1
        $program.GetType().FullName | Should -Be 'System.Management.Automation.PSCustomObject'
        $program.name | Should -Be 'Kinase screen'
        $program.sample_count | Should -BeOfType [long]
        $program.owner.team.site.city | Should -Be 'Basel'
        $program.tags | Should -Be @('hts', 'kinase')
        $request = Get-ApiRequest
        $request.method | Should -Be 'GET'
        $request.path | Should -Be '/programs/prg-1'
        $request.headers.'x-kal-authorization' | Should -BeLike 'Bearer *'
    }

    It 'GET of an array writes its elements to the pipeline one by one' {
        $names = Invoke-KalApiRequest -Method Get -Path /programs | ForEach-Object name
        $names | Should -Be @('Kinase screen', 'Stability panel')
        (Invoke-KalApiRequest GET programs | Measure-Object).Count | Should -Be 2
    }

    It 'POST writes a nested body with the JSON writer (types kept, no depth limit) and returns the answer' {
        $deep = [ordered]@{ level = 0 }
        $cursor = $deep
        foreach ($level in 1..12) { $cursor.child = [ordered]@{ level = $level }; $cursor = $cursor.child }
        $deepJson = (0..12 | ForEach-Object { '{"level":' + $_ }) -join ',"child":'
        $body = [ordered]@{
            name    = 'New screen'
            count   = 3
            ratio   = 0.25
            active  = $false
            missing = $null
            owner   = [pscustomobject]@{ name = 'Ada'; teams = @('chem', 'bio') }
            one     = @('single')
            deep    = $deep
        }

        $created = Invoke-KalApiRequest POST programs -Body $body -Confirm:$false -StatusCodeVariable status -ResponseHeadersVariable headers

        $status | Should -Be 201
        $headers['content-type'] | Should -Be 'application/json; charset=utf-8'
        $created.id | Should -Be 'prg-created'
        $created.owner.teams | Should -Be @('chem', 'bio')
        $created.deep.child.child.child.child.child.child.child.child.child.child.child.child.level | Should -Be 12
        $sent = (Get-ApiRequest).body
        $sent | Should -BeExactly ('{"name":"New screen","count":3,"ratio":0.25,"active":false,"missing":null,"owner":{"name":"Ada","teams":["chem","bio"]},"one":["single"],"deep":' + $deepJson + ('}' * 13) + '}')
        (Get-ApiRequest).headers.'content-type' | Should -Be 'application/json; charset=utf-8'
    }

    It 'POST sends a string body as it is' {
        $created = Invoke-KalApiRequest POST programs -Body '{"name": "as typed",  "n": 1.50}'
        $created.name | Should -Be 'as typed'
        (Get-ApiRequest).body | Should -BeExactly '{"name": "as typed",  "n": 1.50}'
    }

    It 'DELETE without a body sends {} and writes nothing on 204' {
        $output = Invoke-KalApiRequest DELETE programs/prg-1 -Confirm:$false -StatusCodeVariable status
        $output | Should -BeNullOrEmpty
        $status | Should -Be 204
        $request = Get-ApiRequest
        $request.method | Should -Be 'DELETE'
        $request.status | Should -Be 204
        $request.body | Should -BeExactly '{}'
        $request.headers.'content-type' | Should -Be 'application/json; charset=utf-8'
    }

    It 'URL-encodes -Query values, repeats the name for arrays and leaves out $null' {
        $query = [ordered]@{ q = 'a b&c=d+e/é?#'; tag = @('x', 'y'); skip = $null; flag = $true; n = 5 }
        $echo = Invoke-KalApiRequest GET echo/query -Query $query
        $echo.raw | Should -BeExactly 'q=a%20b%26c%3Dd%2Be%2F%C3%A9%3F%23&tag=x&tag=y&flag=true&n=5'
        $echo.parameters.name | Should -Be @('q', 'tag', 'tag', 'flag', 'n')
        $echo.parameters[0].value | Should -BeExactly 'a b&c=d+e/é?#'
        $echo.parameters.value[1..2] | Should -Be @('x', 'y')
    }

    It 'uses path segments as given and appends -Query to a query already in the path' {
        $echo = Invoke-KalApiRequest GET 'echo/query?pre=1%2B1' -Query @{ post = '2' }
        $echo.raw | Should -BeExactly 'pre=1%2B1&post=2'
        Invoke-KalApiRequest GET 'programs/a%2Fb' -ErrorVariable failures -ErrorAction SilentlyContinue
        (Get-ApiRequest)[-1].path | Should -BeExactly '/programs/a%2Fb'
        $failures[0].Exception.ServerMessage | Should -Be "Program 'a/b' not found" -Because 'an escaped slash stays inside its segment'
    }

    It 'reports a 404 as KalNotFound with the server message, the path as target, and goes on' {
        $result = Invoke-KalApiRequest GET programs/nope -ErrorVariable failures -ErrorAction SilentlyContinue -StatusCodeVariable status
        $result | Should -BeNullOrEmpty
        $status | Should -Be 404
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be "KalNotFound$script:Fqid"
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $failures[0].TargetObject | Should -Be 'programs/nope'
        $failures[0].Exception.Message | Should -Be "GET /programs/nope failed with 404 Not Found: Program 'nope' not found"
        $failures[0].Exception.StatusCode | Should -Be 404
        $failures[0].ErrorDetails.Message | Should -BeLike "*Program 'nope' not found*"
    }

    It 'reports a 400 as KalInvalidRequest with the server message' {
        $thrown = { Invoke-KalApiRequest POST programs -Body @{ title = 'no name' } -ErrorAction Stop } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be "KalInvalidRequest$script:Fqid"
        $thrown.CategoryInfo.Category | Should -Be 'InvalidData'
        $thrown.Exception.Message | Should -BeLike 'POST /programs failed with 400 Bad Request: name is required and must be a non-empty string*'
        $thrown.Exception.ServerMessage | Should -BeLike 'name is required*'
        @(Get-ApiRequest).Count | Should -Be 1
    }

    It 'refuses an absolute URL to another <Case> before sending anything' -TestCases @(
        @{ Case = 'host'; Url = 'https://files.example.test/programs' }
        @{ Case = 'port'; Url = 'http://127.0.0.1:1/programs' }
        @{ Case = 'scheme'; Url = '{https-sandbox}/programs' }
    ) {
        $target = $Url.Replace('{https-sandbox}', ($script:Sandbox.Uri -replace '^http:', 'https:'))
        $thrown = { Invoke-KalApiRequest GET $target -ErrorAction Stop } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be "ForeignApiUrl$script:Fqid"
        $thrown.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $thrown.Exception.Message | Should -BeLike '*is not on the connected API*'
        @(Invoke-Sandbox $script:Sandbox GET requests).Count | Should -Be 1 -Because 'only the connect-time token request reached the sandbox'
    }

    It 'accepts an absolute URL on the API itself' {
        (Invoke-KalApiRequest GET "$($script:Sandbox.Uri)/programs/prg-2").id | Should -Be 'prg-2'
    }

    It 'refuses a path that climbs above the base URI' {
        $thrown = { Invoke-KalApiRequest GET 'programs/../auth/oauth/token' -ErrorAction Stop } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be "InvalidApiPath$script:Fqid"
        @(Get-ApiRequest).Count | Should -Be 0
    }

    It 'refuses a lone surrogate in <Case> before sending anything, rather than sending U+FFFD' -TestCases @(
        @{ Case = 'the path'; Call = { Invoke-KalApiRequest GET "programs/prg-$([char]0xD800)" -ErrorAction Stop }; ErrorId = 'InvalidApiPath'
            Message = 'The path is not valid Unicode (it has a lone surrogate character at index 13) and cannot be sent in a URL.' }
        @{ Case = 'a query value'; Call = { Invoke-KalApiRequest GET programs -Query @{ q = "x$([char]0xDC00)" } -ErrorAction Stop }; ErrorId = 'InvalidQuery'
            Message = "The query value for 'q' is not valid Unicode (it has a lone surrogate character at index 1) and cannot be sent in a URL." }
        @{ Case = 'a body value'; Call = { Invoke-KalApiRequest POST programs -Body @{ name = "$([char]0xDC00)$([char]0xD800)" } -ErrorAction Stop }; ErrorId = 'UnsupportedJsonValue'
            Message = 'The text at Body.name is not valid Unicode (it has a lone surrogate character at index 0) and cannot be sent as JSON.' }
    ) {
        $thrown = $Call | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be "$ErrorId$script:Fqid"
        $thrown.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $thrown.Exception.Message | Should -BeExactly $Message
        @(Get-ApiRequest).Count | Should -Be 0
    }

    It '-WhatIf on POST sends nothing' {
        $output = Invoke-KalApiRequest POST programs -Body @{ name = 'never' } -WhatIf
        $output | Should -BeNullOrEmpty
        @(Get-ApiRequest).Count | Should -Be 0
        Invoke-KalApiRequest POST programs -Body @{ name = 'sent' } -Confirm:$false | Should -Not -BeNullOrEmpty
        @(Get-ApiRequest).Count | Should -Be 1 -Because 'the same call without -WhatIf does reach the sandbox'
    }

    It '-Raw writes the response text' {
        $text = Invoke-KalApiRequest GET programs/prg-2 -Raw
        $text | Should -BeOfType [string]
        ($text | ConvertFrom-Json).notes | Should -Be 'ünïcode ✓'
    }

    It 'connects lazily from the environment like the other cmdlets' {
        Disconnect-KalApi
        try {
            $env:KALEIDOSCOPE_API_CLIENT_ID = $script:Sandbox.ClientId
            $env:KALEIDOSCOPE_API_CLIENT_SECRET = $script:Sandbox.ClientSecret
            $env:KALEIDOSCOPE_API_URL = $script:Sandbox.Uri
            (Invoke-KalApiRequest GET programs/prg-1).id | Should -Be 'prg-1'
        } finally {
            Remove-Item Env:KALEIDOSCOPE_API_CLIENT_ID, Env:KALEIDOSCOPE_API_CLIENT_SECRET, Env:KALEIDOSCOPE_API_URL -ErrorAction SilentlyContinue
        }
    }

    Context '-OutFile' {
        BeforeEach {
            Disconnect-KalApi
            Connect-TestSandbox $script:Sandbox -Extra @{ RetryIntervalSec = 0 }
            $script:Folder = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
            $script:Expected = (Invoke-Sandbox $script:Sandbox POST files @{ file_id = 'export-1'; generated_size = 3MB }).sha256
        }

        It 'streams the body to the file, creating its folder, and writes the file item' {
            $target = Join-Path $script:Folder 'exports/export-1.bin'

            $file = Invoke-KalApiRequest GET files/export-1 -OutFile $target

            $file | Should -HaveCount 1
            $file | Should -BeOfType System.IO.FileInfo
            $file.FullName | Should -Be $target
            $file.PSPath | Should -BeLike 'Microsoft.PowerShell.Core\FileSystem::*export-1.bin'
            $file.Length | Should -Be 3MB
            (Get-FileHash -LiteralPath $target -Algorithm SHA256).Hash | Should -Be $script:Expected.ToUpperInvariant()
            (Get-ChildItem -LiteralPath (Split-Path $target) -Force).Name | Should -Be 'export-1.bin' -Because 'no temporary file is left behind'
            (Get-ApiRequest).headers.accept | Should -Be '*/*'
        }

        It 'takes a PowerShell path relative to the current location, literally' {
            $null = New-Item -ItemType Directory -Path $script:Folder
            Push-Location -LiteralPath $script:Folder
            try { $file = Invoke-KalApiRequest GET files/export-1 -OutFile 'export[1].bin' } finally { Pop-Location }
            $file.FullName | Should -Be (Join-Path $script:Folder 'export[1].bin')
        }

        It 'retries a GET whose body broke off and writes the complete file' {
            Add-Fault @{ method = 'GET'; path_prefix = '/files/export-1'; drop_after_bytes = 1MB }
            $target = Join-Path $script:Folder 'export-1.bin'

            $file = Invoke-KalApiRequest GET files/export-1 -OutFile $target

            (Get-FileHash -LiteralPath $file.FullName -Algorithm SHA256).Hash | Should -Be $script:Expected.ToUpperInvariant()
            @(Get-ApiRequest -Answered).Count | Should -Be 2
        }

        It 'leaves the existing file untouched and no partial file when every attempt breaks off' {
            $null = New-Item -ItemType Directory -Path $script:Folder
            $target = Join-Path $script:Folder 'export-1.bin'
            Set-Content -LiteralPath $target -Value 'previous export' -NoNewline
            Add-Fault @{ method = 'GET'; path_prefix = '/files/export-1'; drop_after_bytes = 1MB; times = 10 }

            $file = Invoke-KalApiRequest GET files/export-1 -OutFile $target -ErrorVariable failures -ErrorAction SilentlyContinue

            $file | Should -BeNullOrEmpty
            $failures[0].FullyQualifiedErrorId | Should -Be "KalConnectionFailed$script:Fqid"
            Get-Content -LiteralPath $target -Raw | Should -Be 'previous export'
            (Get-ChildItem -LiteralPath $script:Folder -Force).Name | Should -Be 'export-1.bin'
            @(Get-ApiRequest).Count | Should -Be 4 -Because 'one attempt and three retries'
        }

        It 'creates no file for an error answer' {
            $target = Join-Path $script:Folder 'missing.bin'
            Invoke-KalApiRequest GET files/missing -OutFile $target -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures[0].FullyQualifiedErrorId | Should -Be "KalNotFound$script:Fqid"
            $target | Should -Not -Exist
        }

        It 'sends nothing and writes no file under -WhatIf' {
            $target = Join-Path $script:Folder 'created.json'
            Invoke-KalApiRequest POST programs -Body @{ name = 'x' } -OutFile $target -WhatIf
            $target | Should -Not -Exist
            @(Get-ApiRequest).Count | Should -Be 0
            # Without -WhatIf the same call saves the JSON answer as it came.
            Invoke-KalApiRequest POST programs -Body @{ name = 'x' } -OutFile $target | Out-Null
            Get-Content -LiteralPath $target -Raw | Should -BeExactly '{"id":"prg-created","name":"x"}'
        }

        It 'takes one path: a second one from the pipeline is an error, not an overwrite' {
            $target = Join-Path $script:Folder 'one.json'
            'programs/prg-1', 'programs/prg-2' | Invoke-KalApiRequest GET -OutFile $target -ErrorVariable failures -ErrorAction SilentlyContinue | Out-Null
            $failures[0].FullyQualifiedErrorId | Should -Be "OutFileTakesOnePath$script:Fqid"
            (Get-Content -LiteralPath $target -Raw | ConvertFrom-Json).id | Should -Be 'prg-1'
            @(Get-ApiRequest).Count | Should -Be 1
        }
    }
}

Describe 'What -Verbose and -Debug show, and what the server is told' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
    }

    It 'logs each response status line before its body (<Case>)' -ForEach @(
        @{ Case = 'the token request'; Run = { Connect-TestSandbox $script:Sandbox -Extra @{ Verbose = $true; Debug = $true } } }
        @{ Case = 'a JSON answer'; Run = { Connect-TestSandbox $script:Sandbox; Invoke-KalApiRequest GET programs/prg-1 -Verbose -Debug | Out-Null } }
        @{ Case = 'an error answer'; Run = { Connect-TestSandbox $script:Sandbox; Invoke-KalApiRequest GET programs/nope -Verbose -Debug -ErrorAction SilentlyContinue } }
    ) {
        $DebugPreference = 'Continue'  # so -Debug does not ask
        $records = @(& $Run *>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -or $_ -is [System.Management.Automation.DebugRecord] } |
            ForEach-Object Message)
        $body = @(0..($records.Count - 1) | Where-Object { $records[$_] -like 'Response body:*' })
        $status = @(0..($records.Count - 1) | Where-Object { $records[$_] -match ' -> \d{3} ' })
        $headers = @(0..($records.Count - 1) | Where-Object { $records[$_] -match '^Response \d{3} ' })

        $body.Count | Should -BeGreaterThan 0 -Because "the body is logged under -Debug: $($records -join ' | ')"
        $status[-1] | Should -BeLessThan $body[-1] -Because 'the status line comes first'
        $headers[-1] | Should -BeLessThan $body[-1] -Because 'the debug status and headers come before the body'
    }

    It 'the User-Agent carries the version of the PowerShell that runs the module' {
        Connect-TestSandbox $script:Sandbox

        $agent = (Invoke-Sandbox $script:Sandbox GET requests | Select-Object -First 1).headers.'user-agent'

        $agent | Should -BeLike "Kalbio.PowerShell/* PowerShell/$($PSVersionTable.PSVersion) (*"
    }
}
