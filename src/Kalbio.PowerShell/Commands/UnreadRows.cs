using System;
using System.Collections.Generic;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Rows that New-KalRecordResult could not turn into a result, counted for the Submit-KalRegistrationResult
    /// whose pipeline they ran in, so that a submission refuses to send when part of its input was lost upstream.
    /// </summary>
    /// <remarks>
    /// The commands of a pipeline (and script blocks inside it, such as ForEach-Object's) run on one thread, and a
    /// Submit-KalRegistrationResult opens its count before any upstream row is processed and closes it when it is
    /// disposed. So a row problem reported on that thread while the count is open came from that pipeline. This is
    /// kept beside the data instead of passing a marker object down the success stream: a marker would turn into a
    /// bogus row for other consumers (New-KalRecordResult | Export-Csv), and could be filtered away before Submit
    /// saw it; an error record could be silenced with -ErrorAction SilentlyContinue.
    /// </remarks>
    internal sealed class UnreadRows
    {
        [ThreadStatic]
        private static List<UnreadRows>? _openOnThisThread;

        private UnreadRows()
        {
        }

        public int Count { get; private set; }

        /// <summary>The first problem, e.g. "Input [3] has no status. ...".</summary>
        public string? First { get; private set; }

        /// <summary>Starts counting the rows lost on this thread, until <see cref="Close"/>.</summary>
        public static UnreadRows Open()
        {
            var rows = new UnreadRows();
            (_openOnThisThread ??= new List<UnreadRows>()).Add(rows);
            return rows;
        }

        /// <summary>Counts a lost row for the innermost open count, if any.</summary>
        public static void Report(string errorId, string message)
        {
            List<UnreadRows>? open = _openOnThisThread;
            if (open is null || open.Count == 0)
            {
                return;
            }

            UnreadRows rows = open[open.Count - 1];
            rows.Count++;
            rows.First ??= message;
        }

        /// <summary>Stops counting; safe to call more than once, and from the thread that opened it only.</summary>
        public void Close() => _openOnThisThread?.Remove(this);
    }
}
