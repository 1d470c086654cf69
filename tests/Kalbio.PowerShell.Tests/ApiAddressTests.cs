using System;
using System.Collections;
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

        [Theory]
        [InlineData("\\programs", "backslash")]
        [InlineData("\\\\evil.example.test\\x", "backslash")]
        [InlineData("#programs", "'#'")]
        public void A_backslash_or_hash_at_the_start_of_a_path_is_refused_like_anywhere_else(string path, string named)
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(Api, path));
            Assert.Equal("InvalidApiPath", failure.ErrorId);
            Assert.Contains(named, failure.Message);
        }

        [Fact]
        public void A_query_mark_at_the_start_of_a_path_queries_the_base_uri_itself()
        {
            Assert.Equal("https://api.example.test/?limit=5", ApiAddress.Resolve(Api, "?limit=5").AbsoluteUri);
            Assert.Equal("https://gateway.example.test/kal/v1/?limit=5", ApiAddress.Resolve(ApiWithPath, "?limit=5").AbsoluteUri);
        }

        [Fact]
        public void An_absolute_url_without_a_path_is_the_base_uri()
        {
            Assert.Equal("https://api.example.test/", ApiAddress.Resolve(Api, "https://api.example.test").AbsoluteUri);
            Assert.Equal("https://api.example.test/?limit=5", ApiAddress.Resolve(Api, "https://api.example.test?limit=5").AbsoluteUri);
        }

        [Fact]
        public void An_http_api_accepts_its_own_http_urls()
        {
            var local = new Uri("http://127.0.0.1:5000/");
            Assert.Equal("http://127.0.0.1:5000/programs", ApiAddress.Resolve(local, "http://127.0.0.1:5000/programs").AbsoluteUri);
            Assert.Equal("ForeignApiUrl", Assert.Throws<KalInputException>(() => ApiAddress.Resolve(local, "https://127.0.0.1:5000/programs")).ErrorId);
        }

        [Theory]
        [InlineData("ftp://api.example.test/programs")]
        [InlineData("file:///etc/passwd")]
        [InlineData("https://[::1/programs")]
        [InlineData("https://exa mple.test/programs")]
        public void Urls_that_are_not_http_addresses_are_refused_as_such(string path)
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(Api, path));
            Assert.Equal("ForeignApiUrl", failure.ErrorId);
            Assert.Contains("is not an http(s) address of the API", failure.Message);
        }

        [Theory]
        [InlineData("https://user:pw@api.example.test/programs?sig=S", "'https://api.example.test/programs' carries a user name")]
        [InlineData("https://evil.example.test/programs?sig=S", "'https://evil.example.test/programs' is not on the connected API (https://api.example.test)")]
        [InlineData("https://api.example.test:8443/programs", "'https://api.example.test:8443/programs' is not on the connected API")]
        public void A_foreign_url_is_named_by_its_origin_and_path_in_the_refusal(string path, string expected)
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(Api, path));
            Assert.Equal("ForeignApiUrl", failure.ErrorId);
            Assert.Contains(expected, failure.Message);
        }

        [Fact]
        public void A_url_outside_the_base_path_is_named_by_its_origin_and_path_in_the_refusal()
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(ApiWithPath, "https://gateway.example.test/other-service/x?sig=S"));
            Assert.Contains("'https://gateway.example.test/other-service/x' is outside the API's base URI", failure.Message);
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
                new("off", false),
                new("ratio", 0.5),
                new("at", new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.FromHours(2))),
                new("na me", 7L),
            };

            string text = ApiAddress.FormatQuery(query);

            Assert.Equal("q=a%20b%26c%3Dd%2Be%2F%C3%A9&tag=x&tag=2&empty=&flag=true&off=false&ratio=0.5&at=2024-01-02T03%3A04%3A05.0000000%2B02%3A00&na%20me=7", text);
        }

        [Theory]
        [InlineData(@"programs/a\uD800", 10)]
        [InlineData(@"\uDC00programs", 0)]
        [InlineData(@"programs?q=\uDC00\uD800", 11)]
        [InlineData(@"https://gateway.example.test/kal/v1/x\uD83D", 37)]
        public void A_path_with_a_lone_surrogate_is_refused_not_sent_with_U_FFFD(string escaped, int index)
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.Resolve(ApiWithPath, UnicodeTextTests.Unescaped(escaped)));
            Assert.Equal("InvalidApiPath", failure.ErrorId);
            Assert.Equal($"The path is not valid Unicode (it has a lone surrogate character at index {index}) and cannot be sent in a URL.", failure.Message);
            Assert.Equal("Path", failure.ParamName);
        }

        [Fact]
        public void A_query_name_or_value_with_a_lone_surrogate_is_refused_not_sent_with_U_FFFD()
        {
            var name = Assert.Throws<KalInputException>(() => ApiAddress.FormatQuery(new[] { new KeyValuePair<string, object?>("na\uD800me", "x") }));
            var value = Assert.Throws<KalInputException>(() => ApiAddress.FormatQuery(new[] { new KeyValuePair<string, object?>("tag", new object[] { "ok", "x\uDC00" }) }));
            var letter = Assert.Throws<KalInputException>(() => ApiAddress.FormatQuery(new[] { new KeyValuePair<string, object?>("c", '\uD800') }));

            Assert.Equal("The query parameter name is not valid Unicode (it has a lone surrogate character at index 2) and cannot be sent in a URL.", name.Message);
            Assert.Equal("The query value for 'tag' is not valid Unicode (it has a lone surrogate character at index 1) and cannot be sent in a URL.", value.Message);
            Assert.Equal("x\uDC00", value.Target);
            Assert.Equal("The query value for 'c' is not valid Unicode (it has a lone surrogate character at index 0) and cannot be sent in a URL.", letter.Message);
            Assert.All(new[] { name, value, letter }, failure => Assert.Equal("InvalidQuery", failure.ErrorId));
        }

        [Fact]
        public void Surrogate_pairs_in_a_path_and_a_query_are_encoded_as_their_UTF8()
        {
            Uri uri = ApiAddress.WithQuery(ApiAddress.Resolve(Api, "programs/🧪?a=🧪"), ApiAddress.FormatQuery(new[] { new KeyValuePair<string, object?>("🧪", "x🧪") }));
            Assert.Equal("https://api.example.test/programs/%F0%9F%A7%AA?a=%F0%9F%A7%AA&%F0%9F%A7%AA=x%F0%9F%A7%AA", uri.AbsoluteUri);
        }

        [Fact]
        public void A_query_is_appended_after_one_already_in_the_path()
        {
            Uri uri = ApiAddress.WithQuery(ApiAddress.Resolve(Api, "programs?limit=5"), "tag=x");
            Assert.Equal("https://api.example.test/programs?limit=5&tag=x", uri.AbsoluteUri);
            Assert.Equal("https://api.example.test/programs?tag=x", ApiAddress.WithQuery(ApiAddress.Resolve(Api, "programs"), "tag=x").AbsoluteUri);
        }

        [Fact]
        public void A_query_after_a_bare_query_mark_needs_no_separator()
        {
            Uri uri = ApiAddress.WithQuery(ApiAddress.Resolve(Api, "programs?"), "tag=x");
            Assert.Equal("https://api.example.test/programs?tag=x", uri.AbsoluteUri);
        }

        [Fact]
        public void An_empty_query_leaves_the_address_as_it_is()
        {
            Assert.Equal("https://api.example.test/programs", ApiAddress.WithQuery(ApiAddress.Resolve(Api, "programs"), string.Empty).AbsoluteUri);
            Assert.Equal("https://api.example.test/programs?limit=5", ApiAddress.WithQuery(ApiAddress.Resolve(Api, "programs?limit=5"), string.Empty).AbsoluteUri);
        }

        [Fact]
        public void Host_wrappers_are_unwrapped_for_a_value_and_for_each_element_of_a_list()
        {
            object? Unwrap(object value) => value is Wrapped w ? w.Value : value;
            var query = new List<KeyValuePair<string, object?>>
            {
                new("n", new Wrapped(5)),
                new("tag", new Wrapped(new object[] { new Wrapped("x"), "y", new Wrapped(null) })),
                new("gone", new Wrapped(null)),
            };

            Assert.Equal("n=5&tag=x&tag=y", ApiAddress.FormatQuery(query, Unwrap));
        }

        [Fact]
        public void A_wrapped_value_without_an_unwrapper_has_no_query_form()
        {
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.FormatQuery(new[] { new KeyValuePair<string, object?>("n", new Wrapped(5)) }));
            Assert.Contains($"a {typeof(Wrapped).FullName}", failure.Message);
        }

        [Theory]
        [InlineData("nested", "a nested object or list")]
        [InlineData("list in a list", "a nested object or list")]
        [InlineData("formattable list in a list", "a nested object or list")]
        [InlineData("nan", "the number NaN")]
        [InlineData("infinity", "the number -Infinity")]
        [InlineData("float nan", "the number NaN")]
        [InlineData("float infinity", "the number Infinity")]
        [InlineData("object", "a System.Object")]
        public void Query_values_without_a_text_form_are_refused_and_described(string kind, string described)
        {
            object value = kind switch
            {
                "nested" => new Dictionary<string, object> { ["a"] = 1 },
                "list in a list" => new object[] { new[] { 1, 2 } },
                "formattable list in a list" => new object[] { new FormattableList() },
                "nan" => double.NaN,
                "infinity" => double.NegativeInfinity,
                "float nan" => float.NaN,
                "float infinity" => float.PositiveInfinity,
                _ => new object(),
            };
            var failure = Assert.Throws<KalInputException>(() => ApiAddress.FormatQuery(new[] { new KeyValuePair<string, object?>("f", value) }));
            Assert.Equal("InvalidQuery", failure.ErrorId);
            Assert.Contains("'f' is " + described + ",", failure.Message);
        }

        /// <summary>Stands for a host's wrapper object (e.g. PowerShell's PSObject), which has no query form itself.</summary>
        private sealed class Wrapped
        {
            public Wrapped(object? value) => Value = value;

            public object? Value { get; }
        }

        /// <summary>A list that can also format itself: as an element of a list it is still a nested list.</summary>
        private sealed class FormattableList : IFormattable, IEnumerable
        {
            public string ToString(string? format, IFormatProvider? formatProvider) => "1,2";

            public IEnumerator GetEnumerator() => new[] { 1, 2 }.GetEnumerator();
        }
    }
}
