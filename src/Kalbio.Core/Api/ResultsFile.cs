using System;
using System.Globalization;
using System.IO;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Api
{
    /// <summary>What the results file readers (CSV and JSON Lines) share: opening the file and naming a problem's line.</summary>
    internal static class ResultsFile
    {
        /// <summary>True for a JSON Lines file (<c>.jsonl</c> or <c>.ndjson</c>, in any case); anything else is read as CSV.</summary>
        public static bool IsJsonLines(string path)
        {
            string extension = Path.GetExtension(path);
            return string.Equals(extension, ".jsonl", StringComparison.OrdinalIgnoreCase)
                || string.Equals(extension, ".ndjson", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>Opens <paramref name="path"/> for one sequential read; a file that cannot be opened is <c>ResultsFileUnreadable</c>.</summary>
        public static FileStream Open(string path)
        {
            try
            {
                return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new KalInputException("ResultsFileUnreadable", $"The results file '{path}' cannot be read: {ex.Message}", "Path", path, ex);
            }
        }

        /// <summary>Once a file is read: the repeated ids its builder's deferred check found, each with its line.</summary>
        public static void ReportRepeatedIds(ResultsPayloadBuilder builder, Action<KalInputException> report, string path)
        {
            foreach ((KalInputException problem, int line) in builder.TakeDeferredProblems())
            {
                report(AtLine(problem, line, path));
            }
        }

        /// <summary>A record's problem, prefixed with the line it starts on: <c>Line 4 of results.csv: records[2] ...</c>.</summary>
        public static KalInputException AtLine(KalInputException problem, int line, string path) =>
            new KalInputException(problem.ErrorId, $"Line {line.ToString(CultureInfo.InvariantCulture)} of {Path.GetFileName(path)}: {problem.Message}", null, path, problem.InnerException);
    }
}
