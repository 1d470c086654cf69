using System.Linq;
using Kalbio.Core.Http;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>What the redactor takes out of text before it leaves the core, and what it leaves alone.</summary>
    public sealed class RedactorTests
    {
        [Theory]
        [InlineData("{\"access_token\":\"at-123456\"}", "{\"access_token\":\"***\"}")]
        [InlineData("{\"ACCESS_TOKEN\": \"at-123456\"}", "{\"ACCESS_TOKEN\": \"***\"}")]
        [InlineData("{\"Client_Secret\":\"cs-1\",\"n\":1}", "{\"Client_Secret\":\"***\",\"n\":1}")]
        [InlineData("{\"Password\":\"p\\\"w\"}", "{\"Password\":\"***\"}")]
        [InlineData("grant_type=refresh_token&REFRESH_TOKEN=rt-1&z=1", "grant_type=refresh_token&REFRESH_TOKEN=***&z=1")]
        [InlineData("Client_Secret=cs-1", "Client_Secret=***")]
        public void Secret_fields_are_masked_whatever_the_case_of_their_name(string text, string expected) =>
            Assert.Equal(expected, new Redactor().Redact(text));

        [Fact]
        public void Pinned_and_remembered_values_are_masked_wherever_they_appear()
        {
            var redactor = new Redactor();
            redactor.Pin("client-secret-value");
            redactor.Remember("access-token-value");
            Assert.Equal("a *** b ***c", redactor.Redact("a client-secret-value b access-token-valuec"));
        }

        [Fact]
        public void Values_shorter_than_six_characters_are_not_treated_as_secrets_so_ordinary_text_survives()
        {
            var redactor = new Redactor();
            redactor.Pin("abcde");
            redactor.Remember("vwxyz");
            redactor.Pin(null);
            redactor.Remember(null);
            Assert.Equal("abcde vwxyz", redactor.Redact("abcde vwxyz"));

            redactor.Pin("abcdef");
            redactor.Remember("uvwxyz");
            Assert.Equal("*** ***", redactor.Redact("abcdef uvwxyz"));
        }

        [Fact]
        public void The_sixteen_most_recent_tokens_are_masked_and_older_ones_are_let_go()
        {
            var redactor = new Redactor();
            string[] tokens = Enumerable.Range(1, 17).Select(i => $"token-{i:D2}").ToArray();
            foreach (string token in tokens.Take(16))
            {
                redactor.Remember(token);
            }

            string all = string.Join(" ", tokens);
            Assert.Equal(string.Join(" ", Enumerable.Repeat(Redactor.Mask, 16)) + " token-17", redactor.Redact(all));

            redactor.Remember(tokens[16]);
            Assert.Equal("token-01 " + string.Join(" ", Enumerable.Repeat(Redactor.Mask, 16)), redactor.Redact(all));
        }

        [Fact]
        public void A_pinned_secret_is_never_let_go()
        {
            var redactor = new Redactor();
            redactor.Pin("client-secret-value");
            for (int i = 0; i < 20; i++)
            {
                redactor.Remember($"token-{i:D2}");
            }

            Assert.Equal("***", redactor.Redact("client-secret-value"));
        }

        [Theory]
        [InlineData("Authorization")]
        [InlineData("x-kal-authorization")]
        [InlineData("Cookie")]
        [InlineData("Token")]
        [InlineData("X-Refresh-Token")]
        [InlineData("Secret")]
        [InlineData("X-Client-SECRET")]
        [InlineData("Key")]
        [InlineData("X-Api-Key")]
        public void Headers_named_as_credentials_or_containing_token_secret_or_key_are_secret(string name)
        {
            Assert.True(Redactor.IsSecretHeader(name));
            Assert.Equal(Redactor.Mask, new Redactor().RedactHeader(name, "plain"));
        }

        [Theory]
        [InlineData("Accept")]
        [InlineData("Content-Type")]
        [InlineData("X-Request-Id")]
        public void Other_headers_keep_their_values_with_known_secrets_masked(string name)
        {
            var redactor = new Redactor();
            redactor.Remember("access-token-value");
            Assert.False(Redactor.IsSecretHeader(name));
            Assert.Equal("application/json", redactor.RedactHeader(name, "application/json"));
            Assert.Equal("id ***", redactor.RedactHeader(name, "id access-token-value"));
        }

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        public void No_text_redacts_to_empty_text(string? text) =>
            Assert.Equal(string.Empty, new Redactor().Redact(text));
    }
}
