using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using Kalbio.Core;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// What is wrong with one input, as a predicate ("has no status ..."): the caller puts the subject in front,
    /// e.g. "records[3] (record_id 'r3')" or "Input [3]".
    /// </summary>
    internal sealed class RecordProblem : Exception
    {
        public RecordProblem(string errorId, string predicate, object? source)
            : base(predicate)
        {
            ErrorId = errorId;
            Source = source;
        }

        public string ErrorId { get; }

        public new object? Source { get; }
    }

    /// <summary>The fields of one record result, read from whatever the user passed.</summary>
    internal struct RecordFields
    {
        public string? RecordId;
        public string? Status;
        public object? Data;
        public string? ErrorMessage;
    }

    /// <summary>
    /// Reads record results from PowerShell input: <see cref="KalRecordResult"/> objects, hashtables and other
    /// dictionaries, and any object with record_id/RecordId and status properties (ConvertFrom-Json output,
    /// [pscustomobject], class instances). Names are matched case-insensitively; a property that is not a field of a
    /// record result is an error rather than silently dropped, because the API refuses unknown fields.
    /// </summary>
    internal static class RecordInput
    {
        public const string FieldList = "record_id (or RecordId), status, data and error_message (or ErrorMessage)";

        [MethodImpl(HotPath.Optimize)]
        public static RecordFields Read(object? item)
        {
            object? value = item is PSObject wrapped ? wrapped.BaseObject : item;
            switch (value)
            {
                case null:
                    throw Problem("RecordResultEmpty", "is empty ($null), not a record result.", item);
                case KalRecordResult typed:
                    return new RecordFields { RecordId = typed.RecordId, Status = typed.Status, Data = typed.Data, ErrorMessage = typed.ErrorMessage };
                case IDictionary dictionary:
                    return FromDictionary(dictionary);
                case string _:
                case ValueType _:
                    throw Problem("RecordResultUnrecognized", $"is {Describe(value)}, not a record result. Pass New-KalRecordResult output, hashtables or objects with {FieldList}.", item);
            }

            return FromProperties(item as PSObject ?? PSObject.AsPSObject(value));
        }

        /// <summary>A text field: text as is, numbers and GUIDs as invariant text, null or empty text as absent.</summary>
        [MethodImpl(HotPath.Optimize)]
        public static string? Text(object? value, string field)
        {
            if (value is PSObject wrapped)
            {
                value = wrapped.BaseObject;
            }

            switch (value)
            {
                case null:
                    return null;
                case string text:
                    return text.Length == 0 ? null : text;
                case Guid _:
                case char _:
                case IConvertible _ when !(value is bool) && !(value is DateTime):
                    return Convert.ToString(value, CultureInfo.InvariantCulture);
            }

            throw Problem("RecordFieldNotText", $"has a {field} that is {Describe(value)}; it must be text.", value);
        }

        /// <summary>A data value that is absent when null; anything else is checked when it is written.</summary>
        public static object? Data(object? value) => value is PSObject wrapped && wrapped.BaseObject is null ? null : value;

        public static string Describe(object? value)
        {
            switch (value)
            {
                case null:
                    return "empty";
                case string text:
                    return text.Length > 40 ? $"the text '{text.Substring(0, 40)}…'" : $"the text '{text}'";
                case ValueType _:
                    return $"the {value.GetType().Name} {Convert.ToString(value, CultureInfo.InvariantCulture)}";
                default:
                    return "a " + value.GetType().FullName;
            }
        }

        private static RecordFields FromDictionary(IDictionary dictionary)
        {
            var fields = new RecordFields();
            foreach (DictionaryEntry entry in dictionary)
            {
                if (!(entry.Key is string name))
                {
                    throw Problem("RecordFieldUnknown", $"has a key that is {Describe(entry.Key)}; the keys of a record result are {FieldList}.", dictionary);
                }

                Assign(ref fields, name, entry.Value, dictionary);
            }

            return fields;
        }

        private static RecordFields FromProperties(PSObject item)
        {
            var fields = new RecordFields();
            foreach (PSPropertyInfo property in item.Properties)
            {
                if (property.IsGettable)
                {
                    Assign(ref fields, property.Name, property.Value, item);
                }
            }

            return fields;
        }

        private static void Assign(ref RecordFields fields, string name, object? value, object source)
        {
            if (Is(name, "record_id") || Is(name, "RecordId"))
            {
                fields.RecordId = Once(fields.RecordId, Text(value, "record_id"), name, source);
                return;
            }

            if (Is(name, "status"))
            {
                fields.Status = Text(value, "status");
                return;
            }

            if (Is(name, "data"))
            {
                fields.Data = Data(value);
                return;
            }

            if (Is(name, "error_message") || Is(name, "ErrorMessage"))
            {
                fields.ErrorMessage = Once(fields.ErrorMessage, Text(value, "error_message"), name, source);
                return;
            }

            throw Problem(
                "RecordFieldUnknown",
                $"has a field '{name}', which a record result does not have (its fields are {FieldList}). Put record data under data, e.g. with New-KalRecordResult -DataProperty {name}.",
                source);
        }

        private static bool Is(string name, string field) => string.Equals(name, field, StringComparison.OrdinalIgnoreCase);

        private static string? Once(string? current, string? value, string name, object source)
        {
            if (current != null && value != null && !string.Equals(current, value, StringComparison.Ordinal))
            {
                throw Problem("RecordFieldUnknown", $"gives {name} twice with different values ('{current}' and '{value}').", source);
            }

            return value ?? current;
        }

        private static RecordProblem Problem(string errorId, string predicate, object? source) => new RecordProblem(errorId, predicate, source);
    }
}
