using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Http
{
    /// <summary>
    /// Turns a caller's path (and query values) into an address on the connection's API, refusing anything that
    /// would send the access token elsewhere: another scheme, host or port, or a path above the base URI.
    /// </summary>
    internal static class ApiAddress
    {
        private static readonly char[] QueryOrFragment = { '?', '#' };

        private static readonly Regex SchemePrefix = new Regex("^[A-Za-z][A-Za-z0-9+.-]*://", RegexOptions.CultureInvariant);

        /// <summary>
        /// Resolves <paramref name="path"/> against <paramref name="baseUri"/>: a relative path (<c>programs</c> or
        /// <c>/programs</c>, both under the base URI) or an absolute URL at or under the base URI. Segments are used
        /// as given (already-escaped text stays escaped); a query after <c>?</c> is kept as written.
        /// </summary>
        public static Uri Resolve(Uri baseUri, string? path)
        {
            if (path is null || path.Trim().Length == 0)
            {
                throw Invalid(path, "The path is empty. Give a path relative to the API, e.g. 'programs' or 'records/<id>'.");
            }

            // Uri would percent-encode a lone surrogate as U+FFFD, calling another address than the one given.
            if (UnicodeText.Problem(path) is string problem)
            {
                throw Invalid(path, $"The path {problem} and cannot be sent in a URL.");
            }

            if (path.Any(char.IsControl))
            {
                throw Invalid(path, "The path contains a control character (such as a line break or NUL). Give the path alone.");
            }

            if (path.IndexOf('\\') >= 0)
            {
                throw Invalid(path, $"The path '{path}' contains a backslash. API paths use '/'; escape a backslash inside an id with [uri]::EscapeDataString().");
            }

            if (path.IndexOf('#') >= 0)
            {
                throw Invalid(path, $"The path '{path}' contains '#', which would be cut off as a fragment. Escape it inside an id with [uri]::EscapeDataString().");
            }

            int mark = path.IndexOf('?');
            string pathPart = mark < 0 ? path : path.Substring(0, mark);
            string queryPart = mark < 0 ? string.Empty : path.Substring(mark);

            Uri uri;
            if (SchemePrefix.IsMatch(pathPart))
            {
                uri = ResolveAbsolute(baseUri, path, pathPart);
            }
            else
            {
                if (pathPart.StartsWith("//", StringComparison.Ordinal))
                {
                    throw Invalid(path, $"The path '{path}' starts with '//', which names a host. Give a path relative to the API, e.g. 'programs'.");
                }

                string relative = pathPart.StartsWith("/", StringComparison.Ordinal) ? pathPart.Substring(1) : pathPart;
                CheckSegments(path, relative);
                // Stryker disable once Statement,Block : unreachable; Uri.TryCreate accepts an http(s) base plus any path that passed the checks above (it escapes what it must), the guard keeps a KalInputException should that change
                if (!Uri.TryCreate(baseUri.GetLeftPart(UriPartial.Path) + relative + queryPart, UriKind.Absolute, out Uri? combined))
                {
                    throw Invalid(path, $"The path '{path}' does not make a valid address under {baseUri}.");
                }

                uri = combined;
            }

            // Belt and braces: whatever the text looked like, the result must be on the API and under its base path.
            if (!IsUnder(baseUri, uri))
            {
                throw Invalid(path, $"The path '{path}' leads outside the API at {baseUri}; it is refused so the access token stays with the API.");
            }

            return uri;
        }

        /// <summary>Adds <paramref name="query"/> (already encoded, without '?') to the address, after any query it has.</summary>
        public static Uri WithQuery(Uri uri, string query)
        {
            if (query.Length == 0)
            {
                return uri;
            }

            string separator = uri.Query.Length == 0 ? "?" : uri.Query == "?" ? string.Empty : "&";
            return new Uri(uri.AbsoluteUri + separator + query);
        }

        /// <summary>
        /// Encodes name/value pairs as a query string (without '?'). Names and values are percent-encoded (UTF-8);
        /// an array or list gives the name once per element; a null value (or an empty list) leaves the name out;
        /// booleans are <c>true</c>/<c>false</c>, dates ISO 8601, numbers in invariant culture.
        /// </summary>
        /// <param name="adapt">Unwraps host objects (e.g. a PowerShell wrapper) before a value is formatted.</param>
        public static string FormatQuery(IEnumerable<KeyValuePair<string, object?>> parameters, Func<object, object?>? adapt = null)
        {
            var text = new StringBuilder();
            foreach (KeyValuePair<string, object?> parameter in parameters)
            {
                if (string.IsNullOrEmpty(parameter.Key))
                {
                    throw new KalInputException("InvalidQuery", "A query parameter has an empty name. Give each query parameter a name.", "Query");
                }

                CheckQueryText(parameter.Key, "The query parameter name", parameter.Key);

                object? value = Adapt(parameter.Value, adapt);
                IEnumerable values = value is IEnumerable sequence && !(value is string) && !(value is IDictionary)
                    ? sequence
                    : new[] { value };
                foreach (object? item in values)
                {
                    string? formatted = FormatValue(parameter.Key, Adapt(item, adapt));
                    if (formatted is null)
                    {
                        continue;
                    }

                    CheckQueryText(formatted, $"The query value for '{parameter.Key}'", item);

                    if (text.Length > 0)
                    {
                        text.Append('&');
                    }

                    text.Append(Uri.EscapeDataString(parameter.Key)).Append('=').Append(Uri.EscapeDataString(formatted));
                }
            }

            return text.ToString();
        }

        // Uri.EscapeDataString would encode a lone surrogate as U+FFFD.
        private static void CheckQueryText(string text, string what, object? target)
        {
            if (UnicodeText.Problem(text) is string problem)
            {
                throw new KalInputException("InvalidQuery", $"{what} {problem} and cannot be sent in a URL.", "Query", target);
            }
        }

        private static object? Adapt(object? value, Func<object, object?>? adapt) => value != null && adapt != null ? adapt(value) : value;

        private static string? FormatValue(string name, object? value)
        {
            switch (value)
            {
                case null:
                    return null;
                case string s:
                    return s;
                case bool b:
                    return b ? "true" : "false";
                case DateTime dt:
                    return dt.ToString("o", CultureInfo.InvariantCulture);
                case DateTimeOffset dto:
                    return dto.ToString("o", CultureInfo.InvariantCulture);
                case Enum e:
                    return e.ToString();
                case double d when double.IsNaN(d) || double.IsInfinity(d):
                    break;
                case float f when float.IsNaN(f) || float.IsInfinity(f):
                    break;
                case double d:
                    return d.ToString("R", CultureInfo.InvariantCulture);
                case float f:
                    return f.ToString("R", CultureInfo.InvariantCulture);
                case IFormattable formattable when !(value is IDictionary) && !(value is IEnumerable):
                    return formattable.ToString(null, CultureInfo.InvariantCulture);
                case char c:
                    return c.ToString();
                case Guid g:
                    return g.ToString();
                case Uri u:
                    return u.OriginalString;
            }

            throw new KalInputException(
                "InvalidQuery",
                $"The query value for '{name}' is {Describe(value)}, which has no query-string form. Give text, numbers, booleans, dates, or an array of them.",
                "Query",
                value);
        }

        private static string Describe(object value) =>
            value is IEnumerable ? "a nested object or list"
            : value is double || value is float ? $"the number {Convert.ToString(value, CultureInfo.InvariantCulture)}"
            : $"a {value.GetType().FullName}";

        private static Uri ResolveAbsolute(Uri baseUri, string path, string pathPart)
        {
            if (!Uri.TryCreate(path, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw Foreign(path, $"'{SafeDescription(path)}' is not an http(s) address of the API. Give a path relative to the API, e.g. 'programs'.");
            }

            if (!string.IsNullOrEmpty(uri.UserInfo))
            {
                throw Foreign(path, $"The URL '{uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)}' carries a user name; the API is reached with the connection's own credentials only.");
            }

            if (Uri.Compare(uri, baseUri, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) != 0)
            {
                throw Foreign(
                    path,
                    $"The URL '{uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)}' is not on the connected API ({baseUri.GetLeftPart(UriPartial.Authority)}). The connection's access token goes only to the API's own scheme, host and port; call other addresses without it (e.g. with Invoke-RestMethod).");
            }

            // Checked on the text as given: Uri has already folded any '..' away.
            // Stryker disable once Arithmetic : starting the search inside "://" only adds the host as a segment, and a host equal to the API's is never "." or ".."
            int pathStart = pathPart.IndexOf('/', pathPart.IndexOf("://", StringComparison.Ordinal) + 3);
            // Stryker disable once Equality : pathStart is -1 or after "://", never 0
            CheckSegments(path, pathStart < 0 ? string.Empty : pathPart.Substring(pathStart));

            if (!IsUnder(baseUri, uri))
            {
                throw Foreign(path, $"The URL '{uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)}' is outside the API's base URI {baseUri}. Give a path under it.");
            }

            return uri;
        }

        private static bool IsUnder(Uri baseUri, Uri uri) =>
            Uri.Compare(uri, baseUri, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
            && (uri.AbsolutePath + "/").StartsWith(baseUri.AbsolutePath, StringComparison.Ordinal);

        /// <summary>Refuses '.' and '..' segments, also when percent-encoded or hidden behind an encoded slash.</summary>
        private static void CheckSegments(string path, string pathPart)
        {
            foreach (string segment in pathPart.Split('/'))
            {
                string decoded = Uri.UnescapeDataString(segment);
                foreach (string part in decoded.Split('/', '\\'))
                {
                    if (part == "." || part == "..")
                    {
                        throw Invalid(path, $"The path '{path}' has a '{part}' segment. Paths may not climb or shift around the API's base URI; give the path from the base, e.g. 'programs/<id>'.");
                    }
                }
            }
        }

        // An absolute address that is refused may carry a signed query; name it without the query.
        private static string SafeDescription(string path)
        {
            int cut = path.IndexOfAny(QueryOrFragment);
            // Stryker disable once Equality : only absolute URLs (starting with a scheme) are described, so cut is never 0
            return cut < 0 ? path : path.Substring(0, cut) + "?…";
        }

        private static KalInputException Invalid(string? path, string message) => new KalInputException("InvalidApiPath", message, "Path", path);

        private static KalInputException Foreign(string path, string message) => new KalInputException("ForeignApiUrl", message, "Path", SafeDescription(path));
    }
}
