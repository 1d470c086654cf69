using System;
using Kalbio.Core.Api;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Where a file is fetched from; no server needed. The names it may be saved under: FileNameRulesTests.</summary>
    public sealed class FilesApiTests : IDisposable
    {
        private readonly KalConnection _connection = new KalConnection(new KalConnectionOptions
        {
            BaseUri = new Uri("https://api.example.test/kal/"),
            ClientId = "id",
            ClientSecret = "secret",
        });

        public void Dispose() => _connection.Dispose();

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
