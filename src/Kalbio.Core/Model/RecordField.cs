using System;

namespace Kalbio.PowerShell.Model
{
    /// <summary>A field of a record result, as every reader of record results (rows, CSV, JSON Lines) names it.</summary>
    internal enum RecordField
    {
        None,
        RecordId,
        Status,
        Data,
        ErrorMessage,
    }

    /// <summary>
    /// The names of the record-result fields and how input names them: the API's snake_case names, the PowerShell
    /// aliases RecordId and ErrorMessage, in any case. One definition, so rows, CSV columns and JSON Lines keys agree.
    /// </summary>
    internal static class RecordFieldNames
    {
        public const string RecordId = "record_id";
        public const string RecordIdAlias = "RecordId";
        public const string Status = "status";
        public const string Data = "data";
        public const string ErrorMessage = "error_message";
        public const string ErrorMessageAlias = "ErrorMessage";

        /// <summary>The fields as messages list them.</summary>
        public const string List = "record_id (or RecordId), status, data and error_message (or ErrorMessage)";

        /// <summary>The field <paramref name="name"/> stands for (in any case); <see cref="RecordField.None"/> for another name.</summary>
        public static RecordField Of(string name) =>
            Is(name, RecordId) || Is(name, RecordIdAlias) ? RecordField.RecordId
            : Is(name, Status) ? RecordField.Status
            : Is(name, Data) ? RecordField.Data
            : Is(name, ErrorMessage) || Is(name, ErrorMessageAlias) ? RecordField.ErrorMessage
            : RecordField.None;

        private static bool Is(string name, string field) => string.Equals(name, field, StringComparison.OrdinalIgnoreCase);
    }
}
