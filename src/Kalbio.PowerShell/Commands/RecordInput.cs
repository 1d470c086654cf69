using System;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// What is wrong with one input, as a predicate ("has no status ..."): the caller puts the subject in front,
    /// e.g. "records[3] (record_id 'r3')" or "Input [3]".
    /// </summary>
    internal sealed class RecordProblem : Exception
    {
        public RecordProblem(string errorId, string predicate)
            : base(predicate)
        {
            ErrorId = errorId;
        }

        public string ErrorId { get; }
    }

    /// <summary>The fields of one record result, read by <see cref="RecordRowReader"/> from whatever the user passed.</summary>
    internal struct RecordFields
    {
        public string? RecordId;
        public string? Status;
        public object? Data;
        public string? ErrorMessage;
    }
}
