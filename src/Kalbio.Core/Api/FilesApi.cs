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
    /// <summary>One file to download: where it comes from and where it goes, checked before anything is sent.</summary>
    internal sealed class DownloadTarget
    {
        internal DownloadTarget(Uri source, string sourceDescription, string name, string path)
        {
            Source = source;
            SourceDescription = sourceDescription;
            Name = name;
            Path = path;
        }

        internal Uri Source { get; }

        /// <summary>The source as messages name it: the API path, or another host's address; never the query.</summary>
        public string SourceDescription { get; }

        /// <summary>The file name it is saved under.</summary>
        public string Name { get; }

        /// <summary>The full path it is saved as.</summary>
        public string Path { get; }
    }

    /// <summary>
    /// Downloading registration files: where a file is fetched from, the name it may be saved under, and the
    /// atomic download itself.
    /// </summary>
    internal static class FilesApi
    {
        private static readonly char[] PathSeparators = { '/', '\\' };

        private const int MaximumFileNameLength = 255;

        private static readonly string[] WindowsDeviceNames =
        {
            "CON", "PRN", "AUX", "NUL",
            "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
            "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
        };

        /// <summary>
        /// Checks everything about one download (ids, URL, file name, that the path stays in <paramref name="folder"/>)
        /// and says where it comes from and goes. Throws <see cref="KalInputException"/> for anything wrong.
        /// </summary>
        public static DownloadTarget Plan(KalClient client, string? fileId, string? activityId, string? fileUrl, string folder, string? fileName)
        {
            Uri source = SourceUri(client, fileId, activityId, fileUrl);
            string name = SaveAsName(fileName, fileId ?? LastSegment(source));
            return new DownloadTarget(source, client.Http.Describe(source), name, PathInFolder(folder, name));
        }

        /// <summary>
        /// Where one file is fetched from: <paramref name="fileUrl"/> when given (absolute, or relative to the API base),
        /// else <c>/activities/{activityId}/file/{fileId}</c> when an activity is given, else <c>/files/{fileId}</c>.
        /// The pipeline sends the token only if the address is on the API's own scheme, host and port.
        /// <paramref name="fileId"/> may be null only when a file URL is given.
        /// </summary>
        public static Uri SourceUri(KalClient client, string? fileId, string? activityId, string? fileUrl)
        {
            if (fileId != null || string.IsNullOrEmpty(fileUrl))
            {
                KalIds.Validate(fileId, "FileId");
            }

            if (!string.IsNullOrEmpty(fileUrl))
            {
                return ParseFileUrl(fileUrl!, client.BaseUri);
            }

            if (!string.IsNullOrEmpty(activityId))
            {
                KalIds.Validate(activityId, "ActivityId");
                return client.ApiUri(KalIds.Path("activities", activityId!, "file", fileId!));
            }

            return client.ApiUri(KalIds.Path("files", fileId!));
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
                return CheckFileName(fileId, $"The file id '{Printable.Of(fileId)}' cannot be used as a file name", "FileId");
            }

            string name = fileName!.Substring(fileName.LastIndexOfAny(PathSeparators) + 1);
            if (name.Length == 0)
            {
                throw InvalidFileName($"The file name '{Printable.Of(fileName)}' ends with a path separator, so it names a folder, not a file.", fileName, "FileName");
            }

            return CheckFileName(name, $"The file name '{Printable.Of(fileName)}' cannot be used", "FileName");
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
                throw InvalidFileName($"The file name '{Printable.Of(name)}' would be saved outside '{full}'.", name, "FileName");
            }

            return path;
        }

        /// <summary>Downloads <paramref name="target"/> atomically (see <see cref="FileDownload"/>).</summary>
        public static Task<FileInfo> DownloadAsync(
            KalClient client,
            DownloadTarget target,
            bool noClobber,
            Action<DownloadProgress>? onProgress,
            IKalLog log,
            CancellationToken cancellation) =>
            FileDownload.SaveAsync(client.Http, new KalRequest(HttpMethod.Get, target.Source), target.Path, noClobber, onProgress, log, cancellation);

        internal static Uri ParseFileUrl(string text, Uri baseUri)
        {
            if (text.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                throw new KalInputException("InvalidUri", $"The file URL '{Printable.Of(text)}' contains white space or a control character. Pass the file_url exactly as the event gives it.", "Uri", text);
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

        private static string CheckFileName(string name, string problem, string givenAs)
        {
            if (name == "." || name == "..")
            {
                throw InvalidFileName($"{problem}: '{name}' is not a file name.", name, givenAs);
            }

            if (name.Trim().Length == 0)
            {
                throw InvalidFileName($"{problem}: it is empty or only white space.", name, givenAs);
            }

            if (name.Any(char.IsControl))
            {
                throw InvalidFileName($"{problem}: it contains a control character (such as a NUL or a line break).", name, givenAs);
            }

            int invalid = name.IndexOfAny(Path.GetInvalidFileNameChars());
            if (invalid >= 0)
            {
                throw InvalidFileName($"{problem}: '{name[invalid]}' is not allowed in file names on this system.", name, givenAs);
            }

            bool windows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
            int length = windows ? name.Length : Encoding.UTF8.GetByteCount(name);
            if (length > MaximumFileNameLength)
            {
                throw InvalidFileName($"{problem}: it is {length} {(windows ? "characters" : "bytes")} long; file names can have at most {MaximumFileNameLength}.", name, givenAs);
            }

            if (windows)
            {
                if (name.EndsWith(".", StringComparison.Ordinal) || name.EndsWith(" ", StringComparison.Ordinal))
                {
                    throw InvalidFileName($"{problem}: Windows drops a trailing dot or space from file names.", name, givenAs);
                }

                string stem = name.Split('.')[0].TrimEnd(' ');
                if (WindowsDeviceNames.Contains(stem, StringComparer.OrdinalIgnoreCase))
                {
                    throw InvalidFileName($"{problem}: '{stem}' is a reserved device name on Windows.", name, givenAs);
                }
            }

            return name;
        }

        /// <summary><paramref name="givenAs"/> says where the name came from: FileName (given) or FileId (the id used as a name).</summary>
        private static KalInputException InvalidFileName(string message, string name, string givenAs) =>
            new KalInputException("InvalidFileName", message, givenAs, name);
    }
}
