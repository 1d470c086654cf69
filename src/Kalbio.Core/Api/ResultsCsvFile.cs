using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;
using Sylvan.Data.Csv;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// Reads a results CSV straight into a <see cref="ResultsPayloadBuilder"/>, one row at a time and without an object
    /// per field: the record_id (or RecordId), status and error_message (or ErrorMessage) columns make the record, the
    /// data columns (by default every other column) its data. Column names are matched case-insensitively, as
    /// Import-Csv | New-KalRecordResult matches them, so both ways give the same body.
    /// </summary>
    /// <remarks>
    /// Only this class uses Sylvan.Data.Csv, so that assembly is loaded when a file is read, not when the module is
    /// imported. In the module, <see cref="PrivateAssemblies.Register"/> must have been called before
    /// <see cref="Read"/> is first compiled.
    /// </remarks>
    internal static class ResultsCsvFile
    {
        private const int CheckStopEvery = 4096;

        /// <summary>
        /// Adds every row of <paramref name="path"/> to <paramref name="builder"/>. A row's problem (with its line
        /// number) goes to <paramref name="report"/>; a file that cannot be read as results throws
        /// <see cref="KalInputException"/>; <paramref name="status"/> sees each status.
        /// </summary>
        public static void Read(
            string path,
            Encoding? encoding,
            char delimiter,
            IReadOnlyList<string>? dataColumns,
            ResultsPayloadBuilder builder,
            Action<KalInputException> report,
            Action<string> status,
            CancellationToken cancellation)
        {
            string name = Path.GetFileName(path);
            TextReader text = new StreamReader(ResultsFile.Open(path), encoding ?? new UTF8Encoding(false), true, 64 * 1024);

            var options = new CsvDataReaderOptions
            {
                Delimiter = delimiter,
                HasHeaders = true,
                // '#' would otherwise start a comment line: a record id may begin with it.
                Comment = '\0',
                HeaderComparer = StringComparer.OrdinalIgnoreCase,
                BufferSize = 64 * 1024,
                MaxBufferSize = 1024 * 1024 * 1024,
            };
            using CsvDataReader reader = CreateReader(text, options, path);
            Columns columns = FindColumns(reader, dataColumns, name);
            var data = new CsvRowData(reader, columns.Data, columns.DataNames);
            builder.DeferDuplicateCheck();
            char[] raw = new char[1024];
            int line = 2;
            int rows = 0;
            while (NextRow(reader, path, line))
            {
                int firstLine = line;
                line += LinesOf(reader, ref raw);
                if (++rows % CheckStopEvery == 0)
                {
                    cancellation.ThrowIfCancellationRequested();
                }

                string? recordId = Text(reader, columns.RecordId);
                string? recordStatus = Text(reader, columns.Status);
                string? errorMessage = columns.ErrorMessage < 0 ? null : Text(reader, columns.ErrorMessage);

                if (recordStatus != null)
                {
                    status(recordStatus);
                }

                KalInputException? problem = builder.Add(recordId, recordStatus, data, errorMessage, line: firstLine);
                if (problem != null)
                {
                    report(ResultsFile.AtLine(problem, firstLine, path));
                }
            }

            ResultsFile.ReportRepeatedIds(builder, report, path);
        }

        private static CsvDataReader CreateReader(TextReader text, CsvDataReaderOptions options, string path)
        {
            try
            {
                return CsvDataReader.Create(text, options);
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                text.Dispose();
                throw new KalInputException("ResultsFileNotCsv", $"The header of the results file '{path}' cannot be read as CSV: {ex.Message}", "Path", path, ex);
            }
        }

        private static bool NextRow(CsvDataReader reader, string path, int line)
        {
            try
            {
                return reader.Read();
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                throw new KalInputException("ResultsFileNotCsv", $"Line {line.ToString(CultureInfo.InvariantCulture)} of the results file '{path}' cannot be read as CSV: {ex.Message}", "Path", path, ex);
            }
        }

        /// <summary>How many lines the current row spans (more than one with newlines in quoted values), so that line numbers stay right.</summary>
        [MethodImpl(HotPath.Optimize)]
        private static int LinesOf(CsvDataReader reader, ref char[] raw)
        {
            int length = reader.GetRawRecord(null!, 0);
            if (length > raw.Length)
            {
                raw = new char[Math.Max(length, raw.Length * 2)];
            }

            reader.GetRawRecord(raw, 0);
            int count = 0;
            int at = -1;
            while ((at = Array.IndexOf(raw, '\n', at + 1, length - at - 1)) >= 0)
            {
                count++;
            }

            // The raw row includes its line break, except the last row of a file that does not end with one.
            return length > 0 && raw[length - 1] == '\n' ? count : count + 1;
        }

        /// <summary>Like New-KalRecordResult: blank text is absent.</summary>
        private static string? Text(CsvDataReader reader, int ordinal)
        {
            string value = reader.GetString(ordinal);
            return string.IsNullOrWhiteSpace(value) ? null : value;
        }

        private static Columns FindColumns(CsvDataReader reader, IReadOnlyList<string>? dataColumns, string name)
        {
            var names = new string[reader.FieldCount];
            for (int i = 0; i < names.Length; i++)
            {
                names[i] = reader.GetName(i);
            }

            int Find(params string[] candidates)
            {
                foreach (string candidate in candidates)
                {
                    int index = Array.FindIndex(names, column => string.Equals(column, candidate, StringComparison.OrdinalIgnoreCase));
                    if (index >= 0)
                    {
                        return index;
                    }
                }

                return -1;
            }

            // The input name says where the column was asked for: Path (a column every results file has) or DataProperty.
            KalInputException Missing(string what, string input = "Path") => new KalInputException(
                "ResultsFileColumnMissing",
                $"{name} has no {what} column (its columns are: {string.Join(", ", names)}). Nothing was sent.",
                input,
                name);

            int recordId = Find(RecordFieldNames.RecordId, RecordFieldNames.RecordIdAlias);
            if (recordId < 0)
            {
                throw Missing("record_id (or RecordId)");
            }

            int status = Find(RecordFieldNames.Status);
            if (status < 0)
            {
                throw Missing("status");
            }

            int errorMessage = Find(RecordFieldNames.ErrorMessage, RecordFieldNames.ErrorMessageAlias);
            var data = new List<int>();
            var dataNames = new List<string>();
            if (dataColumns != null)
            {
                foreach (string column in dataColumns)
                {
                    int index = Find(column);
                    if (index < 0)
                    {
                        throw Missing($"'{column}' data", "DataProperty");
                    }

                    data.Add(index);
                    dataNames.Add(column);
                }
            }
            else
            {
                for (int i = 0; i < names.Length; i++)
                {
                    if (i != recordId && i != status && i != errorMessage)
                    {
                        data.Add(i);
                        dataNames.Add(names[i]);
                    }
                }
            }

            return new Columns(recordId, status, errorMessage, data.ToArray(), dataNames.ToArray());
        }

        /// <summary>
        /// The data columns of the current row, written as text straight from the reader's buffer: no string per
        /// field. The names are encoded once per file, with the body's encoder, so the bytes are those the pipeline's
        /// <see cref="JsonValueWriter"/> writes for the same text.
        /// </summary>
        private readonly struct CsvRowData : IRecordDataWriter
        {
            private readonly CsvDataReader _reader;
            private readonly int[] _ordinals;
            private readonly JsonEncodedText[] _names;
            // One reused array, held in an array so that this readonly struct can replace it when a field is longer.
            private readonly char[][] _scratch;

            public CsvRowData(CsvDataReader reader, int[] ordinals, string[] names)
            {
                _reader = reader;
                _ordinals = ordinals;
                _names = Array.ConvertAll(names, name => JsonEncodedText.Encode(name, JsonValueWriter.WriterOptions.Encoder));
                _scratch = new[] { new char[256] };
            }

            public bool HasData => true;

            [MethodImpl(HotPath.Optimize)]
            public void Write(Utf8JsonWriter writer)
            {
                writer.WriteStartObject();
                for (int i = 0; i < _ordinals.Length; i++)
                {
                    // Without a buffer the reader gives the field's length as written, quotes included: never less than its text.
                    int bound = (int)_reader.GetChars(_ordinals[i], 0, null!, 0, 0);
                    char[] chars = _scratch[0];
                    if (bound > chars.Length)
                    {
                        chars = _scratch[0] = new char[Math.Max(bound, chars.Length * 2)];
                    }

                    int length = (int)_reader.GetChars(_ordinals[i], 0, chars, 0, bound);
                    writer.WriteString(_names[i], chars.AsSpan(0, length));
                }

                writer.WriteEndObject();
            }
        }

        private sealed class Columns
        {
            public Columns(int recordId, int status, int errorMessage, int[] data, string[] dataNames)
            {
                RecordId = recordId;
                Status = status;
                ErrorMessage = errorMessage;
                Data = data;
                DataNames = dataNames;
            }

            public int RecordId { get; }

            public int Status { get; }

            public int ErrorMessage { get; }

            public int[] Data { get; }

            public string[] DataNames { get; }
        }
    }
}
