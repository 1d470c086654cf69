<#
.SYNOPSIS
    Generates the module's MAML help (en-US/Kalbio.PowerShell.dll-Help.xml) from the markdown in docs/help.
.DESCRIPTION
    Binary cmdlets get their help from MAML. Prose is written in one markdown file per cmdlet
    (docs/help/<Cmdlet>.md); syntax, types, positions, pipeline input and aliases come from the built
    module itself, so they can never disagree with the code. Parameters shared by many cmdlets
    (-Connection, -WhatIf, -Confirm) are described once in docs/help/_CommonParameters.md.
    Run in a child pwsh: it imports the built module.

    Markdown shape (## and ### headings, as platyPS writes them):
      # Verb-Noun
      ## SYNOPSIS / ## DESCRIPTION / ## EXAMPLES (### Example title, a ```powershell block, remarks)
      ## PARAMETERS (### -Name, description) / ## INPUTS (### Type) / ## OUTPUTS (### Type) / ## NOTES / ## RELATED LINKS
.OUTPUTS
    One line per problem (a cmdlet, parameter, input or output without help, fewer than two examples);
    exits 1 when there are any and -Strict is given.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SourcePath,
    [Parameter(Mandatory)] [string] $OutputPath,
    [switch] $Strict
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$module = Import-Module $ModulePath -PassThru -Force
# -WhatIf and -Confirm are documented like any parameter (from _CommonParameters.md); the rest is <CommonParameters>.
$commonParameterNames = [System.Management.Automation.PSCmdlet]::CommonParameters + @('UseTransaction')
$problems = [System.Collections.Generic.List[string]]::new()

function Split-MarkdownSections([string] $Text, [string] $Marker) {
    # Returns an ordered map heading -> body for headings that start with $Marker (e.g. '## ').
    $sections = [ordered]@{}
    $current = $null
    $inFence = $false
    foreach ($line in $Text -split "`r?`n") {
        if ($line -match '^```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith($Marker) -and -not $line.StartsWith($Marker + '#')) {
            $current = $line.Substring($Marker.Length).Trim()
            $sections[$current] = [System.Text.StringBuilder]::new()
            continue
        }
        if ($null -ne $current) { $null = $sections[$current].AppendLine($line) }
    }
    $result = [ordered]@{}
    foreach ($key in $sections.Keys) { $result[$key] = $sections[$key].ToString().Trim() }
    return $result
}

# Get-Help indents paragraphs by up to 8 columns and breaks longer lines wherever the width ends, even mid-word;
# lines of at most this many characters fit a 120-column console whole.
$HelpLineWidth = 100

function ConvertTo-Paragraphs([string] $Text, [switch] $NoWrap) {
    # Blank-line separated paragraphs; the source's own line breaks are re-wrapped to $HelpLineWidth at spaces.
    if (-not $Text) { return @() }
    @(($Text -split "(`r?`n){2,}") | Where-Object { $_.Trim() } | ForEach-Object {
        $joined = ($_ -split "`r?`n" | ForEach-Object Trim) -join ' '
        if ($NoWrap) { $joined } else { Format-HelpLines $joined }
    })
}

function Format-HelpLines([string] $Paragraph) {
    $lines = [Collections.Generic.List[string]]::new()
    $line = ''
    foreach ($word in $Paragraph -split ' +') {
        if ($line -and $line.Length + 1 + $word.Length -gt $HelpLineWidth) {
            $lines.Add($line)
            $line = $word
        } else {
            $line = if ($line) { "$line $word" } else { $word }
        }
    }
    if ($line) { $lines.Add($line) }
    $lines -join "`n"
}

function Add-Paragraphs([System.Xml.XmlElement] $Parent, [string] $Text, [switch] $NoWrap) {
    foreach ($paragraph in ConvertTo-Paragraphs $Text -NoWrap:$NoWrap) {
        $para = $Parent.AppendChild($script:xml.CreateElement('maml', 'para', $script:ns.maml))
        $para.InnerText = $paragraph
    }
}

function New-Element([string] $Prefix, [string] $Name, [string] $Text) {
    $element = $script:xml.CreateElement($Prefix, $Name, $script:ns[$Prefix])
    if ($PSBoundParameters.ContainsKey('Text')) { $element.InnerText = $Text }
    return $element
}

function Get-PipelineInput([System.Management.Automation.ParameterMetadata] $Parameter) {
    $kinds = foreach ($set in $Parameter.ParameterSets.Values) {
        if ($set.ValueFromPipeline) { 'ByValue' }
        if ($set.ValueFromPipelineByPropertyName) { 'ByPropertyName' }
    }
    $kinds = @($kinds | Select-Object -Unique)
    if ($kinds.Count) { "True ($($kinds -join ', '))" } else { 'False' }
}

$script:ns = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}
$script:xml = [System.Xml.XmlDocument]::new()
$null = $xml.AppendChild($xml.CreateXmlDeclaration('1.0', 'utf-8', $null))
$root = $xml.AppendChild($xml.CreateElement('helpItems', 'http://msh'))
$root.SetAttribute('schema', 'maml')

$commonFile = Join-Path $SourcePath '_CommonParameters.md'
$commonDescriptions = if (Test-Path $commonFile) { Split-MarkdownSections (Get-Content -Raw $commonFile) '## ' } else { @{} }

foreach ($command in Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name) {
    $file = Join-Path $SourcePath "$($command.Name).md"
    if (-not (Test-Path $file)) { $problems.Add("$($command.Name): no help source $file"); continue }
    $sections = Split-MarkdownSections (Get-Content -Raw $file) '## '
    $get = { param($name) if ($sections.Contains($name)) { $sections[$name] } else { '' } }

    $node = $root.AppendChild((New-Element command command))
    $details = $node.AppendChild((New-Element command details))
    $null = $details.AppendChild((New-Element command name $command.Name))
    $null = $details.AppendChild((New-Element command verb $command.Verb))
    $null = $details.AppendChild((New-Element command noun $command.Noun))
    $synopsis = & $get 'SYNOPSIS'
    if (-not $synopsis) { $problems.Add("$($command.Name): no SYNOPSIS") }
    # The synopsis is one line (Get-Help's Synopsis property); Help.Tests.ps1 checks that it fits.
    Add-Paragraphs ($details.AppendChild((New-Element maml description))) $synopsis -NoWrap
    $description = & $get 'DESCRIPTION'
    if (-not $description) { $problems.Add("$($command.Name): no DESCRIPTION") }
    Add-Paragraphs ($node.AppendChild((New-Element maml description))) $description

    $parameterHelp = Split-MarkdownSections (& $get 'PARAMETERS') '### '
    $parameters = @($command.Parameters.Values | Where-Object { $_.Name -notin $commonParameterNames })

    $syntax = $node.AppendChild((New-Element command syntax))
    foreach ($set in $command.ParameterSets) {
        $item = $syntax.AppendChild((New-Element command syntaxItem))
        $null = $item.AppendChild((New-Element maml name $command.Name))
        foreach ($p in $set.Parameters | Where-Object { $_.Name -notin $commonParameterNames }) {
            $element = $item.AppendChild((New-Element command parameter))
            $element.SetAttribute('required', $p.IsMandatory.ToString().ToLowerInvariant())
            $element.SetAttribute('position', $(if ($p.Position -ge 0) { $p.Position } else { 'named' }))
            $null = $element.AppendChild((New-Element maml name $p.Name))
            if ($p.ParameterType -ne [System.Management.Automation.SwitchParameter]) {
                $value = $element.AppendChild((New-Element command parameterValue $p.ParameterType.Name))
                $value.SetAttribute('required', 'true')
            }
        }
    }

    $parametersNode = $node.AppendChild((New-Element command parameters))
    foreach ($p in $parameters | Sort-Object Name) {
        $text = if ($parameterHelp.Contains("-$($p.Name)")) { $parameterHelp["-$($p.Name)"] }
                elseif ($commonDescriptions.Contains("-$($p.Name)")) { $commonDescriptions["-$($p.Name)"] }
                else { '' }
        if (-not $text) { $problems.Add("$($command.Name): parameter -$($p.Name) has no description") }
        $sets = @($p.ParameterSets.Values)
        $element = $parametersNode.AppendChild((New-Element command parameter))
        $element.SetAttribute('required', (@($sets | Where-Object IsMandatory).Count -gt 0).ToString().ToLowerInvariant())
        $positions = @($sets | Where-Object Position -GE 0 | ForEach-Object Position | Select-Object -Unique)
        $element.SetAttribute('position', $(if ($positions.Count) { $positions[0] } else { 'named' }))
        $element.SetAttribute('pipelineInput', (Get-PipelineInput $p))
        $element.SetAttribute('globbing', 'false')
        $element.SetAttribute('aliases', $(if ($p.Aliases.Count) { $p.Aliases -join ', ' } else { 'none' }))
        $null = $element.AppendChild((New-Element maml name $p.Name))
        Add-Paragraphs ($element.AppendChild((New-Element maml description))) $text
        if ($p.ParameterType -ne [System.Management.Automation.SwitchParameter]) {
            $value = $element.AppendChild((New-Element command parameterValue $p.ParameterType.Name))
            $value.SetAttribute('required', 'true')
        }
        $type = $element.AppendChild((New-Element dev type))
        $null = $type.AppendChild((New-Element maml name $p.ParameterType.FullName))
    }

    foreach ($kind in @(@{ Section = 'INPUTS'; Outer = 'inputTypes'; Inner = 'inputType' }, @{ Section = 'OUTPUTS'; Outer = 'returnValues'; Inner = 'returnValue' })) {
        $entries = Split-MarkdownSections (& $get $kind.Section) '### '
        if ($entries.Count -eq 0) { $problems.Add("$($command.Name): no $($kind.Section)") }
        $outer = $node.AppendChild((New-Element command $kind.Outer))
        foreach ($typeName in $entries.Keys) {
            $inner = $outer.AppendChild((New-Element command $kind.Inner))
            $type = $inner.AppendChild((New-Element dev type))
            $null = $type.AppendChild((New-Element maml name $typeName))
            Add-Paragraphs ($inner.AppendChild((New-Element maml description))) $entries[$typeName]
        }
    }

    $notes = & $get 'NOTES'
    if ($notes) {
        $alert = $node.AppendChild((New-Element maml alertSet)).AppendChild((New-Element maml alert))
        Add-Paragraphs $alert $notes
    }

    $examples = Split-MarkdownSections (& $get 'EXAMPLES') '### '
    if ($examples.Count -lt 2) { $problems.Add("$($command.Name): $($examples.Count) example(s); at least two are needed") }
    $examplesNode = $node.AppendChild((New-Element command examples))
    foreach ($title in $examples.Keys) {
        $body = $examples[$title]
        $code = if ($body -match '(?s)```(?:powershell)?\r?\n(.*?)\r?\n```') { $Matches[1] } else { '' }
        if (-not $code) { $problems.Add("$($command.Name): example '$title' has no code block") }
        $remarks = ($body -replace '(?s)```.*?```', '').Trim()
        $example = $examplesNode.AppendChild((New-Element command example))
        $null = $example.AppendChild((New-Element maml title "--------- $title ---------"))
        $null = $example.AppendChild((New-Element dev code $code))
        Add-Paragraphs ($example.AppendChild((New-Element dev remarks))) $remarks
    }

    $links = $node.AppendChild((New-Element command relatedLinks))
    foreach ($line in (& $get 'RELATED LINKS') -split "`r?`n" | Where-Object { $_ -match '\S' }) {
        $text = $line -replace '^\s*[-*]\s*', '' -replace '\[([^\]]+)\]\(([^)]*)\)', '$1'
        $link = $links.AppendChild((New-Element maml navigationLink))
        $null = $link.AppendChild((New-Element maml linkText $text.Trim()))
        $null = $link.AppendChild((New-Element maml uri ''))
    }
}

$null = New-Item -ItemType Directory -Path (Split-Path $OutputPath) -Force
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$writer = [System.Xml.XmlWriter]::Create($OutputPath, $settings)
try { $xml.Save($writer) } finally { $writer.Dispose() }

foreach ($problem in $problems) { Write-Warning "Help: $problem" }
if ($Strict -and $problems.Count) { exit 1 }
