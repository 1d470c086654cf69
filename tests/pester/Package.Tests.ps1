BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Package = Get-ChildItem -LiteralPath $env:KALBIO_TEST_PACKAGES -Filter 'Kalbio.*.nupkg' | Select-Object -First 1
}

Describe 'The package from build.ps1 -Task Package' {
    It 'exists and carries the manifest version' {
        $script:Package | Should -Not -BeNullOrEmpty
        $version = (Import-PowerShellDataFile (Join-Path $env:KALBIO_TEST_MODULE 'Kalbio.psd1')).ModuleVersion
        $script:Package.Name | Should -Be "Kalbio.$version.nupkg"
    }

    It 'installs with Install-PSResource from a local folder repository and imports by name' {
        $isolatedHome = Join-Path $TestDrive 'home'
        $repository = Join-Path $TestDrive 'repository'
        # .NET reports no data folder (and PSResourceGet then writes into the working directory) unless it exists.
        $null = New-Item -ItemType Directory -Path (Join-Path $isolatedHome '.local/share'), (Join-Path $isolatedHome '.config'), $repository
        Copy-Item -LiteralPath $script:Package.FullName -Destination $repository
        # A child pwsh with its own HOME: PSResourceGet's repository list and the user module path stay inside TestDrive.
        $script = @'
$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name KalbioLocal -Uri $args[0] -Trusted
Install-PSResource -Name Kalbio -Repository KalbioLocal -Scope CurrentUser -TrustRepository -Quiet
$installed = Get-InstalledPSResource -Name Kalbio
Import-Module Kalbio
$module = Get-Module Kalbio
# -Path needs the CSV library the package ships in the module's Dependencies folder.
$csv = Join-Path $args[1] 'results.csv'
Set-Content -LiteralPath $csv -Value "record_id,status`nr1,matched"
Submit-KalRegistrationResult op f -Path $csv -WhatIf 6>$null | Out-Null
$pathRan = $?
"$($installed.Version)|$($module.ModuleBase)|$((Get-Command -Module Kalbio).Count)|$((Get-Help Connect-KalApi).Synopsis)|$(Test-Path (Join-Path $module.ModuleBase 'Dependencies/Sylvan.Data.Csv.dll'))|$pathRan"
'@
        $environment = @{ HOME = $isolatedHome; XDG_DATA_HOME = (Join-Path $isolatedHome '.local/share'); XDG_CONFIG_HOME = (Join-Path $isolatedHome '.config'); PSModulePath = '' }
        $output = Invoke-ChildPwsh -Script $script -ArgumentList $repository, $TestDrive -Environment $environment -WorkingDirectory $TestDrive
        Join-Path $TestDrive 'PSResourceGet' | Should -Not -Exist
        $version, $base, $count, $synopsis, $csvLibrary, $pathRan = ($output | Select-Object -Last 1) -split '\|'
        $version | Should -Be (Import-PowerShellDataFile (Join-Path $env:KALBIO_TEST_MODULE 'Kalbio.psd1')).ModuleVersion
        $base | Should -BeLike "$isolatedHome*"
        [int] $count | Should -Be (Import-PowerShellDataFile (Join-Path $env:KALBIO_TEST_MODULE 'Kalbio.psd1')).CmdletsToExport.Count
        $synopsis | Should -BeLike 'Connects to the Kaleidoscope API*'
        $csvLibrary | Should -Be 'True' -Because 'the package carries Dependencies/Sylvan.Data.Csv.dll for -Path'
        $pathRan | Should -Be 'True'
    }
}
