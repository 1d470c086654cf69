using System.Globalization;
using System.Text;

namespace Kalbio.Core
{
    /// <summary>
    /// Finds lone (unpaired) UTF-16 surrogates, which have no UTF-8 form. System.Text.Json 8 and later, and
    /// <see cref="System.Uri"/>, silently write U+FFFD in their place; text is checked first so that it is refused
    /// instead of sent altered.
    /// </summary>
    internal static class UnicodeText
    {
        // Stryker disable once Boolean : the first argument is whether GetPreamble gives a byte order mark, which GetByteCount never counts
        private static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>The index of the first lone surrogate in <paramref name="text"/>, or -1 when it is valid Unicode.</summary>
        public static int IndexOfLoneSurrogate(string text)
        {
            // The strict encoder's count is vectorised: on long text about ten times faster than a loop over chars,
            // and as fast on short text. Only text that fails is searched character by character.
            try
            {
                Strict.GetByteCount(text);
                return -1;
            }
            catch (EncoderFallbackException)
            {
                return Find(text);
            }
        }

        /// <summary>
        /// Null when <paramref name="text"/> is valid Unicode; else what is wrong, to follow the text's name in a
        /// sentence: "is not valid Unicode (it has a lone surrogate character at index 5)".
        /// </summary>
        public static string? Problem(string text)
        {
            int index = IndexOfLoneSurrogate(text);
            return index < 0 ? null : $"is not valid Unicode (it has a lone surrogate character at index {index.ToString(CultureInfo.InvariantCulture)})";
        }

        private static int Find(string text)
        {
            // The encoder found one, so the loop ends at it.
            for (int i = 0; ; i++)
            {
                char c = text[i];
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                }
                else if (char.IsSurrogate(c))
                {
                    return i;
                }
            }
        }
    }
}
