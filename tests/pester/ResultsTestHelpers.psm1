# Shared by the results tests: a fresh registration to submit to, and what the sandbox then received.
Set-StrictMode -Version Latest

function Reset-TestRegistration {
    param([Parameter(Mandatory)] $Sandbox, [Parameter(Mandatory)] [string] $OperationId, [Parameter(Mandatory)] [string] $FileId)
    Invoke-Sandbox $Sandbox POST reset | Out-Null
    Invoke-Sandbox $Sandbox POST files @{ file_id = $FileId; content = "id`n1`n" } | Out-Null
    Invoke-Sandbox $Sandbox POST registrations @{ operation_id = $OperationId; file_id = $FileId } | Out-Null
    Connect-TestSandbox $Sandbox
    Invoke-Sandbox $Sandbox DELETE requests | Out-Null
}

# The requests to /operations/... since the last reset (token requests left out).
function Get-TestOperationRequest {
    param([Parameter(Mandatory)] $Sandbox)
    @(Invoke-Sandbox $Sandbox GET requests | Where-Object path -Like '/operations/*')
}

# The body of the one submission the sandbox holds.
function Get-TestSubmittedBody {
    param([Parameter(Mandatory)] $Sandbox)
    $submissions = @(Invoke-Sandbox $Sandbox GET submissions)
    $submissions.Count | Should -Be 1 -Because 'exactly one submission is expected'
    $submissions[0].body
}

# The spool files a process holds open, by the targets of its descriptors (Linux: an unlinked file reads "(deleted)").
# Read with readlink only: Get-ChildItem stats each target, and can block on the process's own pipes.
function Get-OpenSpoolFile {
    param([Parameter(Mandatory)] [int] $ProcessId)
    $descriptors = try { [IO.Directory]::GetFileSystemEntries("/proc/$ProcessId/fd") } catch { @() }
    @($descriptors | ForEach-Object { try { [IO.FileInfo]::new($_).LinkTarget } catch { $null } } | Where-Object { $_ -like '*kalbio-results-*' })
}

function Get-TestSha256 {
    param([Parameter(Mandatory)] [string] $Text)
    [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($Text))).ToLowerInvariant()
}

Export-ModuleMember -Function Reset-TestRegistration, Get-TestOperationRequest, Get-TestSubmittedBody, Get-OpenSpoolFile, Get-TestSha256
