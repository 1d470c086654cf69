using System;
using System.Collections.Generic;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>How Invoke-KalApiRequest's -Path and -Query become an address, and what it refuses before sending.</summary>
    public sealed class ApiAddressTests
    {
        private static readonly Uri Api = new Uri("https://api.example.test/");
        private static readonly Uri ApiWithPath = new Uri("https://gateway.example.test/kal/v1/");

        [Theory]
        [InlineData("programs", "https://api.example.test/programs")]
        [InlineData("/programs", "https://api.example.test/programs")]
        [InlineData("records/a%2Fb", "https://api.example.test/records/a%2Fb")]
        [InlineData("records/a b", "https://api.example.test/records/a%20b")]
        [InlineData("programs?limit=5&x=%26", "https://api.example.test/programs?limit=5&x=%26")]
        [InlineData("entity_types:search", "https://api.example.test/entity_types:search")]
        [InlineData("https://api.example.test/programs/1", "https://api.example.test/programs/1")]
        [InlineData("HTTPS://API.EXAMPLE.TEST:443/programs", "https://api.example.test/programs")]
        public void Relative_paths_and_absolute_urls_on_the_api_resolve_under_the_base_uri(string path, string expected) =>
            Assert.Equal(expected, ApiAddress.Resolve(Api, path).AbsoluteUri);

        [Theory]
        [InlineData("programs", "https://gateway.example.test/kal/v1/programs")]
        [InlineData("/programs", "https://gateway.example.test/kal/v1/programs")]
        [InlineData("https://gateway.example.test/kal/v1/programs", "https://gateway.example.test/kal/v1/programs")]
        public void A_leading_slash_stays_under_a_base_uri_that_has_a_path(string path, string expected) =>
            Assert.Equal(expected, ApiAddress.Resolve(ApiWithPath, path).AbsoluteUri);

        [Theory]
        [InlineData("https://evil.example.test/programs")]
        [InlineData("http://api.example.test/programs")]
        [InlineData("https://api.example.test:8443/programs")]
        [InlineData("https://user:pw@api.example.test/programs")]
        [InlineData("ftp://api.example.test/programs")]
        public void Absolute_urls_off_the_api_origin_are_refused_as_foreign(string path)
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(Api, path));
            Assert.Equal("ForeignApiUrl", failure.ErrorId);
            Assert.DoesNotContain("pw@", failure.Message);
        }

        [Fact]
        public void An_absolute_url_on_the_api_host_but_outside_its_base_path_is_refused()
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(ApiWithPath, "https://gateway.example.test/other-service/x"));
            Assert.Equal("ForeignApiUrl", failure.ErrorId);
            Assert.Contains("outside the API's base URI", failure.Message);
        }

        [Fact]
        public void A_refused_url_is_named_without_its_query_which_may_be_a_signature()
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(Api, "https://storage.example.test/f?sig=SECRET123"));
            Assert.DoesNotContain("SECRET123", failure.Message);
            Assert.DoesNotContain("SECRET123", (string)failure.Target!);
        }

        [Theory]
        [InlineData("..")]
        [InlineData("programs/../auth/oauth/token")]
        [InlineData("programs/./x")]
        [InlineData("programs/%2e%2e/x")]
        [InlineData("programs/%2E%2E%2Fx")]
        [InlineData("programs/..%5Cx")]
        [InlineData("https://gateway.example.test/kal/v1/../../admin")]
        [InlineData("//evil.example.test/x")]
        [InlineData("programs\\x")]
        [InlineData("programs#frag")]
        [InlineData("programs/\nx")]
        [InlineData(" ")]
        public void Paths_that_climb_name_a_host_or_cannot_be_sent_are_refused(string path)
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(ApiWithPath, path));
            Assert.Equal("InvalidApiPath", failure.ErrorId);
        }

        [Fact]
        public void Query_names_and_values_are_percent_encoded_in_order_and_arrays_repeat_the_name()
        {
            var query = new List<KeyValuePair<string, object?>>
            {
                new("q", "a b&c=d+e/é"),
                new("tag", new object[] { "x", 2 }),
                new("skip", null),
                new("empty", ""),
                new("flag", true),
                new("ratio", 0.5),
                new("at", new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.FromHours(2))),
                new("na me", 7L),
            };

            string text = ApiAddress.FormatQuery(query);

            Assert.Equal("q=a%20b%26c%3Dd%2Be%2F%C3%A9&tag=x&tag=2&empty=&flag=true&ratio=0.5&at=2024-01-02T03%3A04%3A05.0000000%2B02%3A00&na%20me=7", text);
        }

        [Fact]
        public void A_query_is_appended_after_one_already_in_the_path()
        {
            Uri uri = ApiAddress.WithQuery(ApiAddress.Resolve(Api, "programs?limit=5"), "tag=x");
            Assert.Equal("https://api.example.test/programs?limit=5&tag=x", uri.AbsoluteUri);
            Assert.Equal("https://api.example.test/programs?tag=x", ApiAddress.WithQuery(ApiAddress.Resolve(Api, "programs"), "tag=x").AbsoluteUri);
        }

        [Theory]
        [InlineData("nested")]
        [InlineData("nan")]
        public void Query_values_without_a_text_form_are_refused(string kind)
        {
            object value = kind == "nested" ? new Dictionary<string, object> { ["a"] = 1 } : double.NaN;
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.FormatQuery(new[] { new KeyValuePair<string, object?>("f", value) }));
            Assert.Equal("InvalidQuery", failure.ErrorId);
            Assert.Contains("'f'", failure.Message);
        }
    }
}
