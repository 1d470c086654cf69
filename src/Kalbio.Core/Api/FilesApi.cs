using System;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// Downloading registration files: where a file is fetched from, the name it may be saved under, and the
    /// atomic download itself.
    /// </summary>
    internal static class FilesApi
    {
        private const int MaximumFileNameLength = 255;

        private static readonly string[] WindowsDeviceNames =
        {
            "CON", "PRN", "AUX", "NUL",
            "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
            "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
        };

        /// <summary>
        /// The request for one file: <paramref name="fileUrl"/> when given (absolute, or relative to the API base),
        /// else <c>/activities/{activityId}/file/{fileId}</c> when an activity is given, else <c>/files/{fileId}</c>.
        /// The pipeline sends the token only if the address is on the API's own scheme, host and port.
        /// <paramref name="fileId"/> may be null only when a file URL is given.
        /// </summary>
        public static KalRequest DownloadRequest(KalConnection connection, string? fileId, string? activityId, string? fileUrl)
        {
            if (fileId != null || string.IsNullOrEmpty(fileUrl))
            {
                KalIds.Validate(fileId, "FileId");
            }

            if (!string.IsNullOrEmpty(fileUrl))
            {
                return new KalRequest(HttpMethod.Get, ParseFileUrl(fileUrl!, connection.BaseUri));
            }

            if (!string.IsNullOrEmpty(activityId))
            {
                KalIds.Validate(activityId, "ActivityId");
                return new KalRequest(HttpMethod.Get, connection.ApiUri(KalIds.Path("activities", activityId!, "file", fileId!)));
            }

            return new KalRequest(HttpMethod.Get, connection.ApiUri(KalIds.Path("files", fileId!)));
        }

        /// <summary>
        /// The name to save a file under: the last path segment of <paramref name="fileName"/> (usually server-supplied),
        /// or the file id when no name is given. Throws <see cref="KalInputException"/> (InvalidFileName) for a name
        /// that cannot be a file name in one folder on this system.
        /// </summary>
        public static string SaveAsName(string? fileName, string fileId)
        {
            if (string.IsNullOrEmpty(fileName))
            {
                return CheckFileName(fileId, $"The file id '{Printable(fileId)}' cannot be used as a file name", "Give -FileName.");
            }

            string name = fileName!.Substring(fileName.LastIndexOfAny(new[] { '/', '\\' }) + 1);
            if (name.Length == 0)
            {
                throw InvalidFileName($"The file name '{Printable(fileName)}' ends with a path separator, so it names a folder, not a file.", fileName);
            }

            return CheckFileName(name, $"The file name '{Printable(fileName)}' cannot be used", "Give another -FileName.");
        }

        /// <summary>The last segment of a file URL's path, unescaped: the name a file fetched by URL alone is saved under.</summary>
        public static string LastSegment(Uri uri)
        {
            string path = uri.AbsolutePath;
            return Uri.UnescapeDataString(path.Substring(path.LastIndexOf('/') + 1));
        }

        /// <summary>The full path of <paramref name="name"/> in <paramref name="folder"/>, never anywhere else.</summary>
        public static string PathInFolder(string folder, string name)
        {
            string full = Path.GetFullPath(folder);
            string path = Path.GetFullPath(Path.Combine(full, name));
            string? parent = Path.GetDirectoryName(path);
            if (parent is null || !string.Equals(parent.TrimEnd(Path.DirectorySeparatorChar), full.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            {
                throw InvalidFileName($"The file name '{Printable(name)}' would be saved outside '{full}'.", name);
            }

            return path;
        }

        /// <summary>Downloads <paramref name="request"/> to <paramref name="path"/> atomically (see <see cref="FileDownload"/>).</summary>
        public static Task<FileInfo> DownloadAsync(
            KalConnection connection,
            KalRequest request,
            string path,
            bool noClobber,
            Action<DownloadProgress>? onProgress,
            IKalLog log,
            CancellationToken cancellation) =>
            FileDownload.SaveAsync(connection.Http, request, path, noClobber, onProgress, log, cancellation);

        internal static Uri ParseFileUrl(string text, Uri baseUri)
        {
            if (text.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                throw new KalInputException("InvalidUri", $"The file URL '{Printable(text)}' contains white space or a control character. Pass the file_url exactly as the event gives it.", "Uri", text);
            }

            // On Unix "/files/x" would parse as an absolute file:// URI; a leading slash is a path on the API.
            Uri? uri;
            if (text.StartsWith("/", StringComparison.Ordinal) || !Uri.TryCreate(text, UriKind.Absolute, out uri))
            {
                if (!Uri.TryCreate(text, UriKind.Relative, out Uri? relative))
                {
                    throw new KalInputException("InvalidUri", $"'{text}' is not a valid URL. Pass the file_url from the event, e.g. https://api.kaleidoscope.bio/files/<id>.", "Uri", text);
                }

                uri = new Uri(baseUri, relative);
            }

            if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            {
                throw new KalInputException("InvalidUri", $"The file URL '{text}' uses '{uri.Scheme}:'; only http and https links can be downloaded.", "Uri", text);
            }

            return uri;
        }

        private static string CheckFileName(string name, string problem, string fix)
        {
            if (name == "." || name == "..")
            {
                throw InvalidFileName($"{problem}: '{name}' is not a file name. {fix}", name);
            }

            if (name.Trim().Length == 0)
            {
                throw InvalidFileName($"{problem}: it is empty or only white space. {fix}", name);
            }

            if (name.Any(char.IsControl))
            {
                throw InvalidFileName($"{problem}: it contains a control character (such as a NUL or a line break). {fix}", name);
            }

            int invalid = name.IndexOfAny(Path.GetInvalidFileNameChars());
            if (invalid >= 0)
            {
                throw InvalidFileName($"{problem}: '{name[invalid]}' is not allowed in file names on this system. {fix}", name);
            }

            bool windows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
            int length = windows ? name.Length : Encoding.UTF8.GetByteCount(name);
            if (length > MaximumFileNameLength)
            {
                throw InvalidFileName($"{problem}: it is {length} {(windows ? "characters" : "bytes")} long; file names can have at most {MaximumFileNameLength}. {fix}", name);
            }

            if (windows)
            {
                if (name.EndsWith(".", StringComparison.Ordinal) || name.EndsWith(" ", StringComparison.Ordinal))
                {
                    throw InvalidFileName($"{problem}: Windows drops a trailing dot or space from file names. {fix}", name);
                }

                string stem = name.Split('.')[0].TrimEnd(' ');
                if (WindowsDeviceNames.Contains(stem, StringComparer.OrdinalIgnoreCase))
                {
                    throw InvalidFileName($"{problem}: '{stem}' is a reserved device name on Windows. {fix}", name);
                }
            }

            return name;
        }

        private static KalInputException InvalidFileName(string message, string name) =>
            new KalInputException("InvalidFileName", message, "FileName", name);

        private static string Printable(string text)
        {
            var printable = new StringBuilder(Math.Min(text.Length, 80));
            foreach (char c in text.Length > 80 ? text.Substring(0, 80) : text)
            {
                printable.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
            }

            return text.Length > 80 ? printable.Append("…").ToString() : printable.ToString();
        }
    }
}
