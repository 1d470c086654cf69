BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-KalbioUnderTest
    $script:Sandbox = Start-TestSandbox

    function Add-SandboxFile {
        param([Parameter(Mandatory)] [string] $Id, [string] $Content, [long] $GeneratedSize, [string] $FileName, [string] $ActivityId)
        $body = @{ file_id = $Id }
        if ($PSBoundParameters.ContainsKey('GeneratedSize')) { $body.generated_size = $GeneratedSize } else { $body.content = $Content }
        if ($FileName) { $body.file_name = $FileName }
        if ($ActivityId) { $body.activity_id = $ActivityId }
        Invoke-Sandbox $script:Sandbox POST files $body
    }

    function Get-ApiRequest {
        # -Answered waits for the last request's status: the client can finish reading before the server logs it.
        param([switch] $Answered)
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        do {
            $requests = @(Invoke-Sandbox $script:Sandbox GET requests | Where-Object path -NE '/auth/oauth/token')
        } while ($Answered -and $requests[-1].status -eq 0 -and [DateTime]::UtcNow -lt $deadline)
        $requests
    }

    function Add-Fault([hashtable] $Fault) { Invoke-Sandbox $script:Sandbox POST faults $Fault | Out-Null }
}

AfterAll {
    Disconnect-KalApi
    if ($script:Sandbox) { Stop-TestSandbox $script:Sandbox }
}

Describe 'Get-KalFile' {
    BeforeEach {
        Disconnect-KalApi
        Invoke-Sandbox $script:Sandbox POST reset | Out-Null
        Connect-TestSandbox $script:Sandbox -Extra @{ RetryIntervalSec = 0 }
        $script:Folder = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
        $script:Sha = (Add-SandboxFile -Id 'f1' -Content "id,name`n1,aspirin`n").sha256
    }

    Context 'downloading' {
        It 'saves a file under its id in the current location and returns it as a file item' {
            $null = New-Item -ItemType Directory -Path $script:Folder
            Push-Location -LiteralPath $script:Folder
            try { $file = Get-KalFile f1 } finally { Pop-Location }

            $file | Should -HaveCount 1
            $file | Should -BeOfType System.IO.FileInfo
            $file.FullName | Should -Be (Join-Path $script:Folder 'f1')
            $file.PSPath | Should -BeLike 'Microsoft.PowerShell.Core\FileSystem::*f1'
            (Get-FileHash -LiteralPath $file.FullName -Algorithm SHA256).Hash | Should -Be $script:Sha.ToUpperInvariant()
            (Get-ApiRequest).path | Should -Be '/files/f1'
        }

        It 'saves a 200 MB file byte for byte and leaves no temporary file behind' {
            $expected = (Add-SandboxFile -Id 'large' -GeneratedSize 200MB).sha256

            $file = Get-KalFile large -Destination $script:Folder -ProgressAction SilentlyContinue

            $file.Length | Should -Be 200MB
            (Get-FileHash -LiteralPath $file.FullName -Algorithm SHA256).Hash | Should -Be $expected.ToUpperInvariant()
            (Get-ChildItem -LiteralPath $script:Folder -Force).Name | Should -Be 'large'
        }

        It 'downloads through the activity when an activity id is given' {
            Add-SandboxFile -Id 'f2' -Content 'scoped' -ActivityId 'act-1' | Out-Null

            $file = Get-KalFile -FileId f2 -ActivityId act-1 -Destination $script:Folder

            Get-Content -LiteralPath $file.FullName -Raw | Should -Be 'scoped'
            (Get-ApiRequest).path | Should -Be '/activities/act-1/file/f2'
        }

        It 'downloads every event piped in, binding file_id, file_name, activity_id and file_url by name' {
            Add-SandboxFile -Id 'f2' -Content 'second' -ActivityId 'act-9' | Out-Null
            Add-SandboxFile -Id 'f3' -Content 'third' | Out-Null
            $events = @(
                '{"file_id": "f1", "file_name": "compounds.csv", "record_ids": ["r1"], "unknown": 1}'
                '{"file_id": "f2", "activity_id": "act-9", "file_name": null}'
                "{`"file_id`": `"f3`", `"file_url`": `"$($script:Sandbox.Uri)/files/f3`"}"
            ) | ConvertFrom-Json

            $files = $events | Get-KalFile -Destination $script:Folder

            $files.Name | Should -Be @('compounds.csv', 'f2', 'f3')
            (Get-ApiRequest).path | Should -Be @('/files/f1', '/activities/act-9/file/f2', '/files/f3')
        }
    }

    Context 'plain ids' {
        It 'downloads every id piped in as a string' {
            Add-SandboxFile -Id 'f3' -Content 'third' | Out-Null

            $files = 'f1', 'f3' | Get-KalFile -Destination $script:Folder

            $files.Name | Should -Be @('f1', 'f3')
            (Get-ApiRequest).path | Should -Be @('/files/f1', '/files/f3')
        }

        It '-FileId takes several ids, by position as well as by name' {
            Add-SandboxFile -Id 'f3' -Content 'third' | Out-Null

            $byPosition = Get-KalFile f1, f3 (Join-Path $script:Folder 'a')
            $byName = Get-KalFile -FileId f3, f1 -Destination (Join-Path $script:Folder 'b')

            $byPosition.Name | Should -Be @('f1', 'f3')
            $byName.Name | Should -Be @('f3', 'f1')
            (Get-ApiRequest).path | Should -Be @('/files/f1', '/files/f3', '/files/f3', '/files/f1')
        }

        It 'refuses -FileName with several ids before sending anything' {
            $thrown = { Get-KalFile f1, f3 -FileName data.csv -Destination $script:Folder } | Should -Throw -PassThru

            $thrown.FullyQualifiedErrorId | Should -Be 'FileNameWithSeveralIds,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $thrown.CategoryInfo.Category | Should -Be 'InvalidArgument'
            Get-ApiRequest | Should -BeNullOrEmpty
        }

        It 'an object without FileId, file_id or file_url (<Case>) is a clear error before any request, and the pipeline goes on' -ForEach @(
            @{ Case = 'a CSV row'; Make = { "record_id,smiles`nrec-1,CCO`n" | ConvertFrom-Csv } }
            @{ Case = 'only a file name'; Make = { [pscustomobject]@{ file_name = 'x.csv' } } }
            @{ Case = 'a hashtable'; Make = { @{ file_id = 'f1' } } }
        ) {
            $objects = @(& $Make) + @([pscustomobject]@{ file_id = 'f1' })

            $files = $objects | Get-KalFile -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue

            $files.Name | Should -Be 'f1'
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'FileIdMissing,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failures[0].Exception.Message | Should -BeLike '*has no FileId, file_id or file_url property*'
            (Get-ApiRequest).path | Should -Be '/files/f1' -Because 'nothing is requested for the object without an id'
        }

        It 'an object with only a file_url downloads it, named after the last segment of the URL' {
            $file = [pscustomobject]@{ file_url = "$($script:Sandbox.Uri)/files/f1" } | Get-KalFile -Destination $script:Folder

            $file.Name | Should -Be 'f1'
            (Get-ApiRequest).path | Should -Be '/files/f1'
        }

        It 'without any id at all it stops with FileIdMissing' {
            { Get-KalFile -Destination $script:Folder } | Should -Throw -ErrorId 'FileIdMissing,Kalbio.PowerShell.Commands.GetKalFileCommand'
            Get-ApiRequest | Should -BeNullOrEmpty
        }
    }

    Context 'a destination that looks like a file name' {
        It 'warns that -Destination is a folder when a new destination has a file extension, and names -FileName' {
            $destination = Join-Path $script:Folder 'newdir/out.csv'

            $file = Get-KalFile f1 -Destination $destination -WarningVariable warnings -WarningAction SilentlyContinue

            $warnings | Should -HaveCount 1
            "$($warnings[0])" | Should -BeLike "*'out.csv'*folder*-FileName*"
            $file.FullName | Should -Be (Join-Path $destination 'f1') -Because 'the folder is still created as asked'
        }

        It 'does not warn for an existing folder, or a new one without an extension' {
            $existing = Join-Path $script:Folder 'v1.2'
            $null = New-Item -ItemType Directory -Path $existing

            Get-KalFile f1 -Destination $existing -WarningVariable first -WarningAction SilentlyContinue | Out-Null
            Get-KalFile f1 -Destination (Join-Path $script:Folder 'incoming') -WarningVariable second -WarningAction SilentlyContinue | Out-Null

            $first | Should -BeNullOrEmpty
            $second | Should -BeNullOrEmpty
        }
    }

    Context 'file_url and the access token' {
        It 'sends the token when the file_url is on the API host' {
            [pscustomobject]@{ file_id = 'f1'; file_url = "$($script:Sandbox.Uri)/files/f1" } | Get-KalFile -Destination $script:Folder | Out-Null

            (Get-ApiRequest).headers.'x-kal-authorization' | Should -Match '^Bearer \S+$'
        }

        It 'sends neither the token nor the additional headers to another host' {
            Disconnect-KalApi
            Connect-TestSandbox $script:Sandbox -Extra @{ AdditionalHeader = @{ Authorization = 'Bearer proxy-token' } }
            # Same server, another host name: a signed storage link, which needs no token.
            $link = ($script:Sandbox.Uri -replace '127\.0\.0\.1', 'localhost') + '/storage/f1?signature=abc%2Fdef'

            $file = [pscustomobject]@{ file_id = 'f1'; file_url = $link } | Get-KalFile -Destination $script:Folder

            Get-Content -LiteralPath $file.FullName -Raw | Should -Be "id,name`n1,aspirin`n"
            $request = Get-ApiRequest
            $request.path | Should -Be '/storage/f1'
            $request.query | Should -Be 'signature=abc%2Fdef'
            $request.headers.PSObject.Properties.Name | Should -Not -Contain 'x-kal-authorization'
            $request.headers.PSObject.Properties.Name | Should -Not -Contain 'authorization'
        }
    }

    Context 'file names and destinations' {
        It 'reduces the name <Name> to its last segment, inside the destination' -TestCases @(
            @{ Name = '../../escaped.csv'; Saved = 'escaped.csv' }
            @{ Name = '/etc/absolute.csv'; Saved = 'absolute.csv' }
            @{ Name = 'C:\Windows\windows.csv'; Saved = 'windows.csv' }
        ) {
            $file = Get-KalFile f1 -FileName $Name -Destination $script:Folder

            $file.FullName | Should -Be (Join-Path $script:Folder $Saved)
            (Get-ChildItem -LiteralPath $script:Folder -Force).Name | Should -Be $Saved
            [IO.Path]::GetFullPath($Name, $script:Folder) | Should -Not -Exist
        }

        It 'refuses the name <Label> with a clear error before sending anything' -TestCases @(
            @{ Label = '..'; Name = '..'; Says = "'..' is not a file name" }
            @{ Label = 'with a NUL'; Name = "a`0b.csv"; Says = 'control character' }
            @{ Label = 'ending in a separator'; Name = 'folder/'; Says = 'ends with a path separator' }
            @{ Label = 'of 300 characters'; Name = ('x' * 300); Says = 'at most 255' }
        ) {
            $output = Get-KalFile f1 -FileName $Name -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue

            $output | Should -BeNullOrEmpty
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'InvalidFileName,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failures[0].Exception.Message | Should -BeLike "*$Says*"
            Get-ApiRequest | Should -BeNullOrEmpty
            $script:Folder | Should -Not -Exist
        }

        It 'resolves a relative destination against the PowerShell location, not the process directory' {
            $processDirectory = [Environment]::CurrentDirectory
            Push-Location -LiteralPath $TestDrive
            try { $file = Get-KalFile f1 -Destination 'relative/nested' } finally { Pop-Location }

            $file.FullName | Should -Be (Join-Path $TestDrive 'relative/nested/f1')
            [Environment]::CurrentDirectory | Should -Be $processDirectory
            Join-Path $processDirectory 'relative' | Should -Not -Exist
        }

        It 'takes PowerShell drive paths and folder names with wildcard characters literally' {
            $file = Get-KalFile f1 -Destination 'TestDrive:/[draft] files*'

            $file.FullName | Should -Be (Join-Path $TestDrive '[draft] files*/f1')
        }

        It 'refuses a destination that is a file' {
            $null = New-Item -ItemType File -Path $script:Folder

            { Get-KalFile f1 -Destination $script:Folder } | Should -Throw -ErrorId 'DestinationIsFile,Kalbio.PowerShell.Commands.GetKalFileCommand'
            Get-ApiRequest | Should -BeNullOrEmpty
        }

        It 'refuses a destination outside the file system' {
            { Get-KalFile f1 -Destination 'Env:/x' } | Should -Throw -ErrorId 'DestinationNotFileSystem,Kalbio.PowerShell.Commands.GetKalFileCommand'
        }
    }

    Context 'existing files' {
        BeforeEach {
            $null = New-Item -ItemType Directory -Path $script:Folder
            $script:Existing = Join-Path $script:Folder 'f1'
            Set-Content -LiteralPath $script:Existing -Value 'the previous version' -NoNewline
        }

        It 'replaces an existing file of the same name' {
            Get-KalFile f1 -Destination $script:Folder | Out-Null

            Get-Content -LiteralPath $script:Existing -Raw | Should -Be "id,name`n1,aspirin`n"
            (Get-ChildItem -LiteralPath $script:Folder -Force).Name | Should -Be 'f1'
        }

        It '-NoClobber refuses it with a clear error, sends nothing and goes on with the next file' {
            Add-SandboxFile -Id 'f2' -Content 'second' | Out-Null

            $files = 'f1', 'f2' | ForEach-Object { [pscustomobject]@{ file_id = $_ } } |
                Get-KalFile -Destination $script:Folder -NoClobber -ErrorVariable failures -ErrorAction SilentlyContinue

            $files.Name | Should -Be 'f2'
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'FileExists,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'ResourceExists'
            $failures[0].Exception.Message | Should -BeLike "*'$script:Existing' already exists*"
            Get-Content -LiteralPath $script:Existing -Raw | Should -Be 'the previous version'
            (Get-ApiRequest).path | Should -Be '/files/f2'
        }

        It 'a folder of the same name is a clear error, and the folder stays' {
            Remove-Item -LiteralPath $script:Existing
            $null = New-Item -ItemType Directory -Path $script:Existing

            Get-KalFile f1 -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

            $failures[0].FullyQualifiedErrorId | Should -Be 'DestinationIsFolder,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $script:Existing | Should -Exist -Because 'the folder is left alone'
            (Get-Item -LiteralPath $script:Existing).PSIsContainer | Should -BeTrue
            Get-ApiRequest | Should -BeNullOrEmpty
        }
    }

    Context 'failures' {
        It '404 is a non-terminating not-found error naming the file id, and the pipeline goes on' {
            Add-SandboxFile -Id 'f2' -Content 'second' | Out-Null

            $files = 'f1', 'no-such-file', 'f2' | ForEach-Object { [pscustomobject]@{ file_id = $_ } } |
                Get-KalFile -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue

            $files.Name | Should -Be @('f1', 'f2')
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'FileNotFound,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failures[0].TargetObject | Should -Be 'no-such-file'
            $failures[0].ToString() | Should -BeLike "Cannot download file 'no-such-file': GET /files/no-such-file failed with 404*"
            Join-Path $script:Folder 'no-such-file' | Should -Not -Exist
        }

        It 'other HTTP errors give the status and the server message, without a retry' {
            Add-Fault @{ path_prefix = '/files/f1'; status = 403; body = '{"code":"forbidden","message":"No access to this workspace"}' }

            Get-KalFile f1 -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

            $failures[0].FullyQualifiedErrorId | Should -Be 'KalPermissionDenied,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].ToString() | Should -BeLike '*403 Forbidden: No access to this workspace*'
            Get-ApiRequest | Should -HaveCount 1
        }

        It 'retries a connection dropped mid-body from the first byte, and -Verbose says so' {
            $expected = (Add-SandboxFile -Id 'mid' -GeneratedSize 3MB).sha256
            Add-Fault @{ path_prefix = '/files/mid'; drop_after_bytes = 1MB }

            $verbose = Get-KalFile mid -Destination $script:Folder -Verbose 4>&1
            $file = $verbose | Where-Object { $_ -is [System.IO.FileInfo] }

            (Get-FileHash -LiteralPath $file.FullName).Hash | Should -Be $expected.ToUpperInvariant()
            ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n" |
                Should -Match 'GET /files/mid: connection failed; retry 1 of 3'
            (Get-ApiRequest -Answered).status | Should -Be @(0, 200)
        }

        It 'a body that breaks off on every attempt is an error and leaves <Case>' -TestCases @(
            @{ Case = 'an existing file untouched'; Prior = $true }
            @{ Case = 'no file behind'; Prior = $false }
        ) {
            $null = New-Item -ItemType Directory -Path $script:Folder
            if ($Prior) { Set-Content -LiteralPath (Join-Path $script:Folder 'f1') -Value 'the previous version' -NoNewline }
            Add-Fault @{ path_prefix = '/files/f1'; drop_after_bytes = 5; times = 4 }

            Get-KalFile f1 -Destination $script:Folder -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

            $failures[0].FullyQualifiedErrorId | Should -Be 'KalConnectionFailed,Kalbio.PowerShell.Commands.GetKalFileCommand'
            $failures[0].ToString() | Should -BeLike "Cannot download file 'f1': GET /files/f1 failed: the connection broke off*"
            Get-ApiRequest | Should -HaveCount 4
            if ($Prior) {
                (Get-ChildItem -LiteralPath $script:Folder -Force).Name | Should -Be 'f1'
                Get-Content -LiteralPath (Join-Path $script:Folder 'f1') -Raw | Should -Be 'the previous version'
            } else {
                Get-ChildItem -LiteralPath $script:Folder -Force | Should -BeNullOrEmpty
            }
        }

        It 'waits as a 503 Retry-After asks and then downloads' {
            Add-Fault @{ path_prefix = '/files/f1'; status = 503; retry_after = '1' }

            $verbose = Get-KalFile f1 -Destination $script:Folder -Verbose 4>&1

            ($verbose | Where-Object { $_ -is [System.IO.FileInfo] }).Name | Should -Be 'f1'
            ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n" |
                Should -Match "503 Service Unavailable; retry 1 of 3 in 1 s \(as the server's Retry-After asks\)"
            (Get-ApiRequest -Answered).status | Should -Be @(503, 200)
        }
    }
}
