using System.Text;

namespace Kalbio.Core
{
    /// <summary>Text from outside (ids, names, header values) made safe to quote in a message: no control characters, bounded length.</summary>
    internal static class Printable
    {
        /// <summary>Control characters as <c>\uXXXX</c>; longer than <paramref name="limit"/> characters, cut with an ellipsis.</summary>
        public static string Of(string text, int limit = 80)
        {
            var printable = new StringBuilder(System.Math.Min(text.Length, limit));
            foreach (char c in text.Length > limit ? text.Substring(0, limit) : text)
            {
                printable.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
            }

            return text.Length > limit ? printable.Append('…').ToString() : printable.ToString();
        }

        /// <summary>For an HTTP status line or plain-text answer: ASCII only (anything else becomes '?'), at most <paramref name="limit"/> characters.</summary>
        public static string Ascii(string text, int limit = 40)
        {
            var clean = new StringBuilder();
            foreach (char c in text)
            {
                clean.Append(c < ' ' || c >= 127 ? '?' : c);
                if (clean.Length >= limit)
                {
                    break;
                }
            }

            return clean.ToString();
        }
    }
}
