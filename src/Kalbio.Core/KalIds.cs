using System;
using System.Linq;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core
{
    /// <summary>Checks ids before they become path segments: an id is opaque, but never a path or a URL.</summary>
    internal static class KalIds
    {
        private static readonly char[] PathCharacters = { '/', '\\', '?', '#' };

        /// <summary>Returns the id unchanged, or throws <see cref="KalInputException"/> saying what is wrong with it.</summary>
        public static string Validate(string? id, string parameterName)
        {
            if (id is null || id.Trim().Length == 0)
            {
                throw new KalInputException("InvalidId", $"{parameterName} is empty. Give the id from the event or the API, e.g. 3f6c2a9e-5b1d-4c8e-9a7f-1e2d3c4b5a60.", parameterName, id);
            }

            int pathCharacter = id.IndexOfAny(PathCharacters);
            if (pathCharacter >= 0)
            {
                throw new KalInputException(
                    "InvalidId",
                    $"{parameterName} '{id}' contains '{id[pathCharacter]}'. An id is a single value such as a UUID, not a path or URL; pass the id alone.",
                    parameterName,
                    id);
            }

            if (id == "." || id == "..")
            {
                throw new KalInputException("InvalidId", $"{parameterName} '{id}' is not an id. Pass the id from the event or the API.", parameterName, id);
            }

            if (id.Any(char.IsControl))
            {
                throw new KalInputException("InvalidId", $"{parameterName} contains a control character (such as a NUL or a line break). Pass the id alone, without them.", parameterName, id);
            }

            // Uri.EscapeDataString would encode a lone surrogate as U+FFFD, naming another id.
            if (UnicodeText.Problem(id) is string problem)
            {
                throw new KalInputException("InvalidId", $"{parameterName} {problem}. Pass the id from the event or the API.", parameterName, id);
            }

            if (id.Trim().Length != id.Length)
            {
                throw new KalInputException("InvalidId", $"{parameterName} '{id}' starts or ends with white space. Pass the id without it.", parameterName, id);
            }

            return id;
        }

        /// <summary>Builds an API-relative path from literal segments and ids, escaping each id as one segment.</summary>
        public static string Path(params string[] segments) =>
            string.Join("/", segments.Select((s, i) => i % 2 == 0 ? s : Uri.EscapeDataString(s)));
    }
}
