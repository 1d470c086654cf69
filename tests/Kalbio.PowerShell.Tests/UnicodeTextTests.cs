using System.Text.RegularExpressions;
using Kalbio.Core;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The lone-surrogate check that keeps text from being sent with U+FFFD in its place.</summary>
    public sealed class UnicodeTextTests
    {
        [Theory]
        [InlineData(@"", -1)]
        [InlineData(@"plain ASCII", -1)]
        [InlineData(@"Zürich é 🧪 𝄞", -1)]
        [InlineData(@"🧪🧪", -1)]
        [InlineData(@"\uD800", 0)]
        [InlineData(@"ends high \uD83D", 10)]
        [InlineData(@"a low \uDC00 alone", 6)]
        [InlineData(@"reversed \uDC00\uD800", 9)]
        [InlineData(@"high then text \uD83Dx", 15)]
        [InlineData(@"🧪\uDEEA extra low after a pair", 2)]
        [InlineData(@"\uD800🧪 high before a pair", 0)]
        [InlineData(@"🧪 first of two \uDFFF \uD800", 16)]
        public void Finds_the_first_lone_surrogate_and_accepts_pairs(string escaped, int expected)
        {
            Assert.Equal(expected, UnicodeText.IndexOfLoneSurrogate(Unescaped(escaped)));
        }

        /// <summary>
        /// Theory data is written escaped (\uD800) because xunit passes it to the test through UTF-8, which turns a lone
        /// surrogate into U+FFFD before the test sees it.
        /// </summary>
        internal static string Unescaped(string escaped) => Regex.Unescape(escaped);

        [Fact]
        public void Finds_a_lone_surrogate_at_the_end_of_long_text()
        {
            string text = new string('a', 1_000_000) + "🧪" + new string('é', 1000);
            Assert.Equal(-1, UnicodeText.IndexOfLoneSurrogate(text));
            Assert.Equal(text.Length, UnicodeText.IndexOfLoneSurrogate(text + "\uDBFF"));
        }

        [Fact]
        public void The_problem_is_null_for_valid_text_and_names_the_index_otherwise()
        {
            Assert.Null(UnicodeText.Problem("🧪 ok"));
            Assert.Equal("is not valid Unicode (it has a lone surrogate character at index 12345)", UnicodeText.Problem(new string('x', 12345) + "\uDC00"));
        }
    }
}
