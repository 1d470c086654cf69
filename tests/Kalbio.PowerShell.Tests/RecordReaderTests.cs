using System.Collections;
using System.Collections.Specialized;
using System.Management.Automation;
using Kalbio.PowerShell.Commands;
using Kalbio.PowerShell.Model;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// New-KalRecordResult, Submit -DataProperty (rows) and Submit -Record (record results) read through one reader: a
    /// record result reads to the same fields either way, with the same text rules.
    /// </summary>
    public sealed class RecordReaderTests
    {
        public static TheoryData<object> RecordResults() => new TheoryData<object>
        {
            new Hashtable { ["record_id"] = "r1", ["status"] = "matched", ["error_message"] = "  " },
            new Hashtable { ["RecordId"] = 42, ["Status"] = "matched", ["ErrorMessage"] = "note" },
            Custom(("record_id", "r1"), ("status", " "), ("error_message", "note")),
            Custom(("RecordId", System.Guid.Empty), ("Status", "created"), ("ErrorMessage", "")),
            new KalRecordResult("r9", "error", null, "failed"),
        };

        [Theory]
        [MemberData(nameof(RecordResults))]
        public void A_record_result_reads_to_the_same_fields_as_a_row_and_as_a_result(object input)
        {
            RecordFields asRow = new RecordRowReader(null, null).Read(input);
            RecordFields asResult = RecordRowReader.RecordResults.Read(input);

            Assert.Equal(asResult.RecordId, asRow.RecordId);
            Assert.Equal(asResult.Status, asRow.Status);
            Assert.Equal(asResult.ErrorMessage, asRow.ErrorMessage);
            Assert.NotNull(asRow.RecordId);
            Assert.All(new[] { asRow.RecordId, asRow.Status, asRow.ErrorMessage }, text => Assert.True(text is null || text.Trim().Length > 0, $"'{text}' is blank but was read as given."));
        }

        [Fact]
        public void Only_a_record_result_is_refused_for_a_column_that_is_not_a_field()
        {
            object row = Custom(("record_id", "r1"), ("status", "matched"), ("smiles", "CCO"));

            Assert.Equal("r1", new RecordRowReader(null, null).Read(row).RecordId);
            RecordProblem problem = Assert.Throws<RecordProblem>(() => RecordRowReader.RecordResults.Read(row));
            Assert.Equal("RecordFieldUnknown", problem.ErrorId);
        }

        private static PSObject Custom(params (string Name, object Value)[] properties)
        {
            var ordered = new OrderedDictionary();
            foreach ((string name, object value) in properties)
            {
                ordered[name] = value;
            }

            var custom = new PSObject();
            foreach (DictionaryEntry entry in ordered)
            {
                custom.Properties.Add(new PSNoteProperty((string)entry.Key, entry.Value));
            }

            return custom;
        }
    }
}
