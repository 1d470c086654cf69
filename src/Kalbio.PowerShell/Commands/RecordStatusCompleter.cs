using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Suggests the usual record statuses; any other text is still accepted, as the API allows.</summary>
    public sealed class RecordStatusCompleter : IArgumentCompleter
    {
        internal static readonly string[] Suggested = { "matched", "not_found", "created", "error" };

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            string typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return Suggested
                .Where(status => status.StartsWith(typed, System.StringComparison.OrdinalIgnoreCase))
                .Select(status => new CompletionResult(status, status, CompletionResultType.ParameterValue, status));
        }
    }
}
