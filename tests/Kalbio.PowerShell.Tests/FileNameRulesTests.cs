using System;
using System.IO;
using System.Runtime.InteropServices;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The names a downloaded file may be saved under. The Windows and Unix rules are both checked here, whatever
    /// system runs the tests; Current is the set of the system the module runs on.
    /// </summary>
    public sealed class FileNameRulesTests
    {
        // 200 characters, 400 bytes in UTF-8: within Windows' limit (UTF-16 characters), over Unix's (bytes).
        private static readonly string TwoHundredAccented = new string('é', 196) + ".csv";

        [Theory]
        [InlineData("../../etc/x.csv", "x.csv")]
        [InlineData("/etc/x.csv", "x.csv")]
        [InlineData(@"C:\Windows\x.csv", "x.csv")]
        [InlineData(@"..\..\x.csv", "x.csv")]
        [InlineData("plain [1].csv", "plain [1].csv")]
        [InlineData("名前.csv", "名前.csv")]
        public void A_given_name_is_reduced_to_its_last_segment(string fileName, string expected) =>
            Assert.Equal(expected, FileNameRules.Current.SaveAsName(fileName, "f1"));

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        public void Without_a_name_the_file_id_is_the_name(string? fileName) =>
            Assert.Equal("3f6c2a9e", FileNameRules.Current.SaveAsName(fileName, "3f6c2a9e"));

        [Theory]
        [InlineData("..")]
        [InlineData("a/..")]
        [InlineData(".")]
        [InlineData("dir/")]
        [InlineData("   ")]
        [InlineData("a\0b.csv")]
        [InlineData("line\nbreak.csv")]
        public void Names_that_are_no_file_name_are_refused(string fileName)
        {
            var failure = Assert.Throws<KalInputException>(() => FileNameRules.Current.SaveAsName(fileName, "f1"));
            Assert.Equal("InvalidFileName", failure.ErrorId);
            Assert.StartsWith("The file name", failure.Message);
            Assert.DoesNotContain(failure.Message, c => c == '\0' || c == '\n');
        }

        [Fact]
        public void A_name_ending_in_a_separator_is_refused_as_a_folder()
        {
            var failure = Assert.Throws<KalInputException>(() => FileNameRules.Current.SaveAsName("reports/", "f1"));
            Assert.Equal("InvalidFileName", failure.ErrorId);
            Assert.Contains("names a folder, not a file", failure.Message);
        }

        [Fact]
        public void A_name_longer_than_the_file_system_allows_is_refused_with_its_length()
        {
            var failure = Assert.Throws<KalInputException>(() => FileNameRules.Current.SaveAsName(new string('x', 256) + ".csv", "f1"));
            Assert.Equal("InvalidFileName", failure.ErrorId);
            Assert.Contains("260", failure.Message);
            Assert.Contains("at most 255", failure.Message);
        }

        [Fact]
        public void A_saved_path_never_leaves_its_folder()
        {
            string folder = Path.GetTempPath();
            Assert.Equal(Path.Combine(Path.GetFullPath(folder), "x.csv"), FileNameRules.PathInFolder(folder, "x.csv"));
            Assert.Equal("InvalidFileName", Assert.Throws<KalInputException>(() => FileNameRules.PathInFolder(folder, "../x.csv")).ErrorId);
        }

        [Theory]
        [InlineData("*.csv", '*')]
        [InlineData("a:b.csv", ':')]
        [InlineData("\"quoted\".csv", '"')]
        [InlineData("<x>.csv", '<')]
        [InlineData("a|b.csv", '|')]
        [InlineData("why?.csv", '?')]
        public void Windows_refuses_its_reserved_characters_anywhere_in_a_name(string fileName, char reserved)
        {
            var failure = Assert.Throws<KalInputException>(() => FileNameRules.Windows.SaveAsName(fileName, "f1"));
            Assert.Equal("InvalidFileName", failure.ErrorId);
            Assert.Contains($"'{reserved}' is not allowed", failure.Message);
            Assert.Equal(fileName, FileNameRules.Unix.SaveAsName(fileName, "f1"));
        }

        [Theory]
        [InlineData("a.")]
        [InlineData("a ")]
        [InlineData("report.csv.")]
        public void Windows_refuses_a_trailing_dot_or_space_which_it_would_drop(string fileName)
        {
            var failure = Assert.Throws<KalInputException>(() => FileNameRules.Windows.SaveAsName(fileName, "f1"));
            Assert.Contains("trailing dot or space", failure.Message);
            Assert.Equal(fileName, FileNameRules.Unix.SaveAsName(fileName, "f1"));
        }

        [Theory]
        [InlineData("CON", "CON")]
        [InlineData("nul.csv", "nul")]
        [InlineData("Com1.tar.gz", "Com1")]
        [InlineData("LPT9 .log", "LPT9")]
        [InlineData("aux", "aux")]
        public void Windows_refuses_device_names_with_any_extension_or_case(string fileName, string device)
        {
            var failure = Assert.Throws<KalInputException>(() => FileNameRules.Windows.SaveAsName(fileName, "f1"));
            Assert.Contains($"'{device}' is a reserved device name", failure.Message);
            Assert.Equal(fileName, FileNameRules.Unix.SaveAsName(fileName, "f1"));
        }

        [Theory]
        [InlineData("console.csv")]
        [InlineData("COM10.csv")]
        [InlineData("my CON.csv")]
        [InlineData(".hidden")]
        public void Windows_accepts_names_that_only_resemble_device_names(string fileName) =>
            Assert.Equal(fileName, FileNameRules.Windows.SaveAsName(fileName, "f1"));

        [Fact]
        public void Windows_counts_a_names_length_in_characters_and_unix_in_utf8_bytes()
        {
            Assert.Equal(TwoHundredAccented, FileNameRules.Windows.SaveAsName(TwoHundredAccented, "f1"));

            var failure = Assert.Throws<KalInputException>(() => FileNameRules.Unix.SaveAsName(TwoHundredAccented, "f1"));
            Assert.Contains("it is 396 bytes long; file names can have at most 255", failure.Message);

            failure = Assert.Throws<KalInputException>(() => FileNameRules.Windows.SaveAsName(new string('x', 256), "f1"));
            Assert.Contains("it is 256 characters long; file names can have at most 255", failure.Message);
        }

        [Fact]
        public void A_name_of_exactly_255_is_accepted_by_both_rule_sets()
        {
            string name = new string('x', 251) + ".csv";
            Assert.Equal(name, FileNameRules.Windows.SaveAsName(name, "f1"));
            Assert.Equal(name, FileNameRules.Unix.SaveAsName(name, "f1"));
        }

        [Fact]
        public void A_file_id_used_as_the_name_is_checked_whole_not_cut_to_a_segment()
        {
            var unix = Assert.Throws<KalInputException>(() => FileNameRules.Unix.SaveAsName(null, "a/b"));
            Assert.Equal("FileId", unix.ParamName);
            Assert.Contains("'/' is not allowed", unix.Message);

            var windows = Assert.Throws<KalInputException>(() => FileNameRules.Windows.SaveAsName(null, @"a\b"));
            Assert.Contains(@"'\' is not allowed", windows.Message);
        }

        [Fact]
        public void Current_is_the_rule_set_of_the_system_it_runs_on()
        {
            string name = "a:b.";
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                Assert.Equal("InvalidFileName", Assert.Throws<KalInputException>(() => FileNameRules.Current.SaveAsName(name, "f1")).ErrorId);
                return;
            }

            // This system stores the name as given, so Current must accept it.
            string folder = Path.Combine(Path.GetTempPath(), "kal-names-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            try
            {
                string path = FileNameRules.PathInFolder(folder, FileNameRules.Current.SaveAsName(name, "f1"));
                File.WriteAllText(path, "x");
                Assert.Equal(name, Path.GetFileName(Assert.Single(Directory.GetFiles(folder))));
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
