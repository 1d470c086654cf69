#Requires -Version 7.4
<#
.SYNOPSIS
    What PowerShell itself charges for each row piped from Import-Csv into a compiled cmdlet: the binding, and the
    property lookups a results cmdlet must make on the row. The module is not involved.
.DESCRIPTION
    Writes a CSV of -Rows rows (record_id, status, id, name, smiles) and, in a fresh `pwsh -NoProfile` per run, times
    one of these (after start-up, in the process):

      Floor     Import-Csv | Out-Null
      Bind      Import-Csv | a compiled cmdlet that takes each row (ValueFromPipeline, object[]) and reads nothing
      Lookup5   the same cmdlet reading record_id, status, id, name and smiles with PSObject.Properties[name]
      Lookup6   the same, also asking for error_message, which the rows do not have (a miss)
      Dynamic6  the six through DLR call sites: PSObject's own binder, the path `$row.name` takes in a script
      Enumerate one pass over PSObject.Properties instead of six lookups

    Dynamic6 and Enumerate are the public alternatives to Properties[name]; each is compared with Lookup6.

    The runs are alternated, -Repeat times each, and the medians printed, each with its difference from the way it
    adds to (Bind from Floor, Lookup5 from Bind, Lookup6 from Lookup5) or replaces (Dynamic6 and Enumerate, Lookup6).
    The test cmdlet is compiled with Add-Type before the clock starts.
.EXAMPLE
    pwsh -NoProfile -c "& ./bench/Pipeline-RowCost.Benchmark.ps1 -Repeat 5"
#>
[CmdletBinding()]
param(
    [int] $Rows = 100000,
    [int] $Repeat = 5
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$pwsh = @([Environment]::ProcessPath)
if ([IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }

$work = Join-Path ([IO.Path]::GetTempPath()) "kalbio-rowcost-$PID"
$null = New-Item -ItemType Directory -Path $work -Force
$csv = Join-Path $work 'rows.csv'
$writer = [IO.StreamWriter]::new($csv, $false, [Text.UTF8Encoding]::new($false))
try {
    $writer.WriteLine('record_id,status,id,name,smiles')
    for ($i = 0; $i -lt $Rows; $i++) { $writer.WriteLine("rec-$i,matched,CMP-$($i + 100000),Compound $i,CC(=O)Oc1ccccc1C(=O)O") }
} finally { $writer.Dispose() }

$child = Join-Path $work 'child.ps1'
Set-Content -LiteralPath $child -Value @'
param([string] $Way, [string] $Csv)
$types = Add-Type -PassThru -TypeDefinition @"
using System;
using System.Dynamic;
using System.Management.Automation;
using System.Runtime.CompilerServices;
// A get-member site: PSObject binds it with PowerShell's own binder, as for `$row.name` in a script.
public sealed class TestGetMember : GetMemberBinder
{
    public TestGetMember(string name) : base(name, true) { }
    public override DynamicMetaObject FallbackGetMember(DynamicMetaObject target, DynamicMetaObject errorSuggestion) => throw new InvalidOperationException(Name);
}
[Cmdlet("Read", "TestRow")]
public sealed class ReadTestRowCommand : PSCmdlet
{
    private static readonly string[] Present = { "record_id", "status", "id", "name", "smiles" };
    private static readonly string[] WithMissing = { "record_id", "status", "error_message", "id", "name", "smiles" };
    [Parameter(ValueFromPipeline = true)] public object[] Row { get; set; }
    [Parameter] public int Lookups { get; set; }
    [Parameter] public string Way { get; set; }
    private static readonly CallSite<Func<CallSite, object, object>>[] Sites = Array.ConvertAll(WithMissing, n => CallSite<Func<CallSite, object, object>>.Create(new TestGetMember(n)));
    private long _found;
    protected override void ProcessRecord()
    {
        if (Way == "Dynamic6")
        {
            foreach (object item in Row) { foreach (var site in Sites) { if (site.Target(site, item) != null) _found++; } }
            return;
        }
        if (Way == "Enumerate")
        {
            foreach (object item in Row) { foreach (PSPropertyInfo property in ((PSObject)item).Properties) { if (property.Value != null) _found++; } }
            return;
        }
        if (Lookups == 0) return;
        string[] names = Lookups == 5 ? Present : WithMissing;
        foreach (object item in Row)
        {
            PSMemberInfoCollection<PSPropertyInfo> properties = ((PSObject)item).Properties;
            foreach (string name in names) { if (properties[name] != null) _found++; }
        }
    }
    protected override void EndProcessing() => WriteObject(_found);
}
"@
Import-Module -Assembly $types[0].Assembly
$found = 0
$clock = [Diagnostics.Stopwatch]::StartNew()
switch ($Way) {
    'Floor' { Import-Csv -LiteralPath $Csv | Out-Null }
    'Bind' { $found = Import-Csv -LiteralPath $Csv | Read-TestRow -Lookups 0 }
    'Lookup5' { $found = Import-Csv -LiteralPath $Csv | Read-TestRow -Lookups 5 }
    'Lookup6' { $found = Import-Csv -LiteralPath $Csv | Read-TestRow -Lookups 6 }
    'Dynamic6' { $found = Import-Csv -LiteralPath $Csv | Read-TestRow -Way Dynamic6 }
    'Enumerate' { $found = Import-Csv -LiteralPath $Csv | Read-TestRow -Way Enumerate }
}
$clock.Elapsed.TotalSeconds
"found $found"
'@

$ways = 'Floor', 'Bind', 'Lookup5', 'Lookup6', 'Dynamic6', 'Enumerate'
$times = @{}
try {
    for ($round = 1; $round -le $Repeat; $round++) {
        foreach ($way in $ways) {
            $output = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $child -Way $way -Csv $csv
            if ($LASTEXITCODE -ne 0) { throw "$way run $round failed (exit code $LASTEXITCODE)." }
            $times[$way] += @([double] ($output | Select-Object -Last 2 | Select-Object -First 1))
            # Every way that reads the rows must have found the five columns of each (a way that read nothing would be fast).
            $expected = if ($way -in 'Floor', 'Bind') { 0 } else { 5 * $Rows }
            if (($output | Select-Object -Last 1) -ne "found $expected") { throw "$way found $($output | Select-Object -Last 1), expected $expected." }
        }
    }
} finally {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    if ($sorted.Count % 2) { $sorted[[int][Math]::Floor($sorted.Count / 2)] } else { ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2 }
}

"Rows: $($Rows.ToString('N0')); runs per way: $Repeat (medians, seconds in the process after start-up); pwsh $($PSVersionTable.PSVersion)"
$comparedWith = @{ Bind = 'Floor'; Lookup5 = 'Bind'; Lookup6 = 'Lookup5'; Dynamic6 = 'Lookup6'; Enumerate = 'Lookup6' }
$(foreach ($way in $ways) {
    $median = Get-Median $times[$way]
    $other = $comparedWith[$way]
    [pscustomobject]@{
        Way        = $way
        Seconds    = [Math]::Round($median, 3)
        Versus     = $other
        Difference = if ($other) { [Math]::Round($median - (Get-Median $times[$other]), 3) } else { $null }
        AllSeconds = ($times[$way] | ForEach-Object { $_.ToString('N3') }) -join ' '
    }
}) | Format-Table -AutoSize
