using System;
using System.Collections.Generic;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Warns once for each record status that is not one of the usual ones (a likely typo such as "matchd"). Only a
    /// warning: the API takes any text, and the server owns the set of statuses.
    /// </summary>
    internal sealed class UnknownStatusWarnings
    {
        private const int MaximumWarnings = 5;

        private readonly Action<string> _warn;
        private HashSet<string>? _warned;

        public UnknownStatusWarnings(Action<string> warn) => _warn = warn;

        public void Check(string status)
        {
            if (_warned != null && _warned.Count >= MaximumWarnings)
            {
                return;
            }

            foreach (string known in RecordStatusCompleter.Suggested)
            {
                if (string.Equals(status, known, StringComparison.Ordinal))
                {
                    return;
                }
            }

            if ((_warned ??= new HashSet<string>(StringComparer.Ordinal)).Add(status))
            {
                _warn($"The record status '{status}' is not one of the usual ones ({string.Join(", ", RecordStatusCompleter.Suggested)}); it is sent as it is. Check it for a typo.");
            }
        }
    }
}
