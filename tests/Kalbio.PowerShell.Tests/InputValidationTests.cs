using System;
using System.Linq;
using Kalbio.Core;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Input the core refuses before any request, and what it says about it.</summary>
    public sealed class InputValidationTests
    {
        [Theory]
        [InlineData("")]
        [InlineData("   ")]
        [InlineData("a/b")]
        [InlineData("a?b")]
        [InlineData("a#b")]
        [InlineData("..")]
        [InlineData("a\0b")]
        [InlineData(" padded")]
        public void Ids_that_are_empty_or_path_like_are_refused(string id)
        {
            var failure = Assert.Throws<KalInputException>(() => KalIds.Validate(id, "FileId"));
            Assert.Equal("InvalidId", failure.ErrorId);
            Assert.StartsWith("FileId", failure.Message);
        }

        [Fact]
        public void An_id_with_a_lone_surrogate_is_refused_rather_than_sent_as_another_id()
        {
            // Built here, not as theory data: xunit passes theory data through UTF-8, which would replace the surrogate.
            foreach (string id in new[] { "f1\uD800", "\uDC00f1", "f\uDC00\uD800" })
            {
                var failure = Assert.Throws<KalInputException>(() => KalIds.Validate(id, "FileId"));
                Assert.Equal("InvalidId", failure.ErrorId);
                Assert.StartsWith("FileId is not valid Unicode (it has a lone surrogate character at index ", failure.Message);
            }

            Assert.Equal("f1🧪", KalIds.Validate("f1🧪", "FileId"));
        }

        [Theory]
        [InlineData("3f6c2a9e-5b1d-4c8e-9a7f-1e2d3c4b5a60")]
        [InlineData("file.v2")]
        [InlineData("名前")]
        public void Ordinary_ids_pass(string id) => Assert.Equal(id, KalIds.Validate(id, "FileId"));

        [Theory]
        [InlineData("ftp://example.test/")]
        [InlineData("not a uri")]
        [InlineData("")]
        [InlineData("https://example.test/?q=1")]
        public void Base_uris_that_are_not_absolute_http_are_refused(string text)
        {
            var failure = Assert.Throws<KalInputException>(() => KalConnectionOptions.ParseBaseUri(text));
            Assert.Equal("InvalidBaseUri", failure.ErrorId);
        }

        [Fact]
        public void A_base_uri_with_a_path_keeps_it_and_gains_a_trailing_slash()
        {
            Uri uri = KalConnectionOptions.ParseBaseUri("https://example.test/kal/api");
            Assert.Equal("https://example.test/kal/api/", uri.ToString());
            Assert.Equal("https://example.test/kal/api/files/x", new Uri(uri, "files/x").ToString());
        }

        [Fact]
        public void Skipping_certificate_checks_and_plain_http_to_another_host_are_warned_about_but_loopback_http_is_not()
        {
            var risky = new KalConnectionOptions { BaseUri = new Uri("http://lab.example.test/"), SkipCertificateCheck = true };
            Assert.Equal(2, risky.SecurityRisks().Count());
            var local = new KalConnectionOptions { BaseUri = new Uri("http://127.0.0.1:5080/") };
            Assert.Empty(local.SecurityRisks());
        }

        [Fact]
        public void Additional_headers_may_not_replace_the_token_header()
        {
            var options = new KalConnectionOptions { ClientId = "c", ClientSecret = "s" };
            options.AdditionalHeaders.Add(new("X-Kal-Authorization", "Bearer x"));
            var failure = Assert.Throws<KalInputException>(() => new KalConnection(options));
            Assert.Equal("InvalidAdditionalHeader", failure.ErrorId);
        }

        [Fact]
        public void The_redactor_hides_known_secrets_and_secret_fields_anywhere_in_text()
        {
            var redactor = new Redactor();
            redactor.Pin("client-secret-value");
            redactor.Remember("access-token-value");
            string text = redactor.Redact("secret=client-secret-value token access-token-value {\"refresh_token\": \"rt-123456\"} grant_type=x&client_secret=abc&z=1");
            Assert.DoesNotContain("client-secret-value", text);
            Assert.DoesNotContain("access-token-value", text);
            Assert.DoesNotContain("rt-123456", text);
            Assert.DoesNotContain("client_secret=abc", text);
            Assert.Contains("&z=1", text);
            Assert.Equal(Redactor.Mask, redactor.RedactHeader("Authorization", "Bearer x"));
        }
    }
}
