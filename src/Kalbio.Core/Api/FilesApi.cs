using System;
using System.IO;
using System.Linq;
using System.Net.Http;
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
        /// <summary>
        /// Checks everything about one download (ids, URL, file name, that the path stays in <paramref name="folder"/>)
        /// and says where it comes from and goes. Throws <see cref="KalInputException"/> for anything wrong.
        /// </summary>
        public static DownloadTarget Plan(KalClient client, string? fileId, string? activityId, string? fileUrl, string folder, string? fileName)
        {
            Uri source = SourceUri(client, fileId, activityId, fileUrl);
            string name = FileNameRules.Current.SaveAsName(fileName, fileId ?? LastSegment(source));
            return new DownloadTarget(source, client.Http.Describe(source), name, FileNameRules.PathInFolder(folder, name));
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

        /// <summary>The last segment of a file URL's path, unescaped: the name a file fetched by URL alone is saved under.</summary>
        public static string LastSegment(Uri uri)
        {
            string path = uri.AbsolutePath;
            return Uri.UnescapeDataString(path.Substring(path.LastIndexOf('/') + 1));
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
    }
}
