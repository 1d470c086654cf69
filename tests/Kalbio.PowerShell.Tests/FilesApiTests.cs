using System;
using System.IO;
using Kalbio.Core.Api;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Where a file is fetched from and the names it may be saved under; no server needed.</summary>
    public sealed class FilesApiTests : IDisposable
    {
        private readonly KalConnection _connection = new KalConnection(new KalConnectionOptions
        {
            BaseUri = new Uri("https://api.example.test/kal/"),
            ClientId = "id",
            ClientSecret = "secret",
        });

        public void Dispose() => _connection.Dispose();

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

        [Fact]
        public void The_path_is_the_files_endpoint_or_the_activity_scoped_one_with_ids_escaped()
        {
            Assert.Equal("https://api.example.test/kal/files/a%20b", FilesApi.SourceUri(_connection.Client, "a b", null, null).AbsoluteUri);
            Assert.Equal("https://api.example.test/kal/activities/act%201/file/f%25", FilesApi.SourceUri(_connection.Client, "f%", "act 1", null).AbsoluteUri);
            Assert.Equal("https://api.example.test/kal/activities/act-1/file/f1", FilesApi.SourceUri(_connection.Client, "f1", "act-1", null).AbsoluteUri);
            Assert.Equal("InvalidId", Assert.Throws<KalInputException>(() => FilesApi.SourceUri(_connection.Client, "f1", "a/b", null)).ErrorId);
        }

        [Theory]
        [InlineData("https://storage.example.test/bucket/f1?sig=a%2Fb", "https://storage.example.test/bucket/f1?sig=a%2Fb")]
        [InlineData("https://api.example.test/kal/files/f1", "https://api.example.test/kal/files/f1")]
        [InlineData("/kal/files/f1", "https://api.example.test/kal/files/f1")]
        [InlineData("files/f1", "https://api.example.test/kal/files/f1")]
        public void A_file_url_wins_over_the_ids_and_may_be_relative_to_the_api(string fileUrl, string expected) =>
            Assert.Equal(expected, FilesApi.SourceUri(_connection.Client, "f1", "act-1", fileUrl).AbsoluteUri);

        [Theory]
        [InlineData("file:///etc/passwd")]
        [InlineData("ftp://example.test/f1")]
        [InlineData("https://example.test/a b")]
        public void File_urls_that_are_not_http_links_are_refused(string fileUrl) =>
            Assert.Equal("InvalidUri", Assert.Throws<KalInputException>(() => FilesApi.SourceUri(_connection.Client, "f1", null, fileUrl)).ErrorId);
    }
}
