using System;

namespace Kalbio.Core.Http
{
    /// <summary>How much of a body -Debug shows (request, response and error bodies alike): the one definition of those limits.</summary>
    internal static class DebugPreview
    {
        /// <summary>
        /// How much of a body is taken (and redacted) at most: redacting a large export in full would cost more than
        /// the request.
        /// </summary>
        public const int SourceLength = 16 * 1024;

        /// <summary>How many characters of it are shown.</summary>
        public const int ShownLength = 4 * 1024;

        /// <summary>The start of <paramref name="text"/>, redacted and shortened.</summary>
        public static string Of(string text, Redactor redactor) =>
            Shorten(redactor.Redact(text.Length > SourceLength ? text.Substring(0, SourceLength) : text), text.Length);

        /// <summary>Shortens text that is already redacted; <paramref name="totalLength"/> is the length of the whole body.</summary>
        public static string Shorten(string redacted, int? totalLength = null)
        {
            int total = totalLength ?? redacted.Length;
            return redacted.Length <= ShownLength && total <= SourceLength
                ? redacted
                : redacted.Substring(0, Math.Min(redacted.Length, ShownLength)) + $"… ({total:N0} characters in all)";
        }
    }
}
