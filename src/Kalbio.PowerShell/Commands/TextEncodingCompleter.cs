using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>The text encodings -Encoding takes (PowerShell's names), and their completion.</summary>
    public sealed class TextEncodingCompleter : IArgumentCompleter
    {
        internal static readonly string[] Names = { "utf8", "utf8BOM", "utf8NoBOM", "unicode", "bigendianunicode", "utf32", "ascii", "latin1" };

        /// <summary>The encoding for a name or a code page number; null when there is none.</summary>
        internal static Encoding? Parse(string name)
        {
            switch (name.ToLowerInvariant())
            {
                case "utf8":
                case "utf8bom":
                case "utf8nobom":
                    return new UTF8Encoding(false);
                case "unicode":
                    return new UnicodeEncoding(false, false);
                case "bigendianunicode":
                    return new UnicodeEncoding(true, false);
                case "utf32":
                    return new UTF32Encoding(false, false);
                case "ascii":
                    return new ASCIIEncoding();
                case "latin1":
                    return Encoding.GetEncoding(28591);
            }

            try
            {
                return int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int codePage) ? Encoding.GetEncoding(codePage) : Encoding.GetEncoding(name);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException)
            {
                return null;
            }
        }

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            string typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return Names
                .Where(name => name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                .Select(name => new CompletionResult(name, name, CompletionResultType.ParameterValue, name));
        }
    }
}
