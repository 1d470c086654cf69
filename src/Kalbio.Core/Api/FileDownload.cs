using System;
using System.Diagnostics;
using System.IO;
using System.Net.Http;
using System.Reflection;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Api
{
    /// <summary>How far a download has got; <see cref="TotalBytes"/> is null when the server sent no length.</summary>
    internal readonly struct DownloadProgress
    {
        public DownloadProgress(long bytesReceived, long? totalBytes, TimeSpan elapsed)
        {
            BytesReceived = bytesReceived;
            TotalBytes = totalBytes;
            Elapsed = elapsed;
        }

        public long BytesReceived { get; }

        public long? TotalBytes { get; }

        /// <summary>Time since the current attempt's body started.</summary>
        public TimeSpan Elapsed { get; }

        public int? PercentComplete => TotalBytes is long total && total > 0 ? (int)Math.Min(100, BytesReceived * 100 / total) : (int?)null;

        public double BytesPerSecond => Elapsed.TotalSeconds > 0 ? BytesReceived / Elapsed.TotalSeconds : 0;
    }

    /// <summary>The file to be written already exists and replacing it was not allowed.</summary>
    internal sealed class DestinationExistsException : IOException
    {
        public DestinationExistsException(string path)
            : this(path, $"The file '{path}' already exists.")
        {
        }

        private DestinationExistsException(string path, string message)
            : base(message)
        {
            Path = path;
        }

        public string Path { get; }

        /// <summary>The same refusal told in other words (a caller's advice added).</summary>
        internal DestinationExistsException WithMessage(string message) => new DestinationExistsException(Path, message);
    }

    /// <summary>
    /// Streams a response body to a file, atomically: the body goes to a temporary file in the destination's folder,
    /// which is moved over the destination only once every byte the server announced has arrived. A failed,
    /// truncated or cancelled download deletes the temporary file and leaves any existing file untouched.
    /// </summary>
    /// <remarks>
    /// The body is read inside the pipeline's attempt, so a connection that breaks off mid-body (or a body shorter
    /// than its Content-Length) is reported as an incomplete read and fetched again from the first byte for
    /// idempotent requests. Errors writing the file are never retried: they surface as the
    /// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> they are.
    /// </remarks>
    internal static class FileDownload
    {
        private const int BufferSize = 1 << 20;
        private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

        // netstandard2.0 lacks File.Move(source, destination, overwrite); every runtime PowerShell 7 runs on has it,
        // and it is one rename(2) / MoveFileEx(REPLACE_EXISTING): the atomic replace we want.
        private static readonly Action<string, string, bool>? MoveWithOverwrite = CreateMoveWithOverwrite();

        /// <summary>
        /// Sends <paramref name="request"/> and saves its body as <paramref name="path"/> (a full path whose folder
        /// exists). Returns the saved file. Throws <see cref="KalInputException"/> (DestinationIsFolder) when a folder is
        /// in the way, <see cref="DestinationExistsException"/> when
        /// <paramref name="noClobber"/> and the file exists (checked before the request and again, atomically, at
        /// the end), <see cref="KalApiException"/> for HTTP and transport failures, and IO exceptions for the disk.
        /// <paramref name="onProgress"/>, if given, is called from a worker thread when an attempt's body starts, then
        /// at most four times a second as bytes arrive, and at its end.
        /// </summary>
        public static async Task<FileInfo> SaveAsync(
            KalHttpPipeline http,
            KalRequest request,
            string path,
            bool noClobber,
            Action<DownloadProgress>? onProgress,
            IKalLog log,
            CancellationToken cancellation)
        {
            path = Path.GetFullPath(path);
            if (Directory.Exists(path))
            {
                throw new KalInputException("DestinationIsFolder", $"Cannot save to '{path}': a folder of that name is there. Give another file name, or move the folder.", "Path", path);
            }

            if (noClobber && File.Exists(path))
            {
                throw new DestinationExistsException(path);
            }

            string folder = Path.GetDirectoryName(path)!;
            string temporary = Path.Combine(folder, ".kal-" + RandomHex() + ".tmp");
            var stopwatch = Stopwatch.StartNew();
            bool moved = false;

            // Created before the request, so a folder that cannot be written to fails before anything is sent.
            FileStream file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.None);
            try
            {
                long length = await http.SendAndReadAsync(
                    request,
                    (response, timeout) => CopyBodyAsync(response, timeout, file, onProgress),
                    log,
                    cancellation).ConfigureAwait(false);

                file.Dispose();
                bool replacing = log.IsVerboseEnabled && File.Exists(path);
                MoveIntoPlace(temporary, path, noClobber);
                moved = true;
                if (log.IsVerboseEnabled)
                {
                    double seconds = Math.Max(stopwatch.Elapsed.TotalSeconds, 0.001);
                    string rate = length >= 1 << 20 ? $", {length / seconds / (1 << 20):0} MiB/s" : string.Empty;
                    log.Verbose($"Saved {length:N0} bytes as '{path}'{(replacing ? ", replacing the file that was there" : string.Empty)} ({seconds:0.###} s{rate}).");
                }

                return new FileInfo(path);
            }
            finally
            {
                if (!moved)
                {
                    file.Dispose();
                    TryDelete(temporary);
                }
            }
        }

        /// <summary>
        /// One attempt: the body from its first byte, over whatever an earlier attempt left in the file. A body that
        /// breaks off or ends short comes back as an incomplete read, which the pipeline may send for again; an
        /// error writing the file is thrown as it is, and ends the download.
        /// </summary>
        private static async Task<BodyOutcome<long>> CopyBodyAsync(HttpResponseMessage response, RequestTimeout timeout, FileStream file, Action<DownloadProgress>? onProgress)
        {
            file.Position = 0;
            file.SetLength(0);

            long? expected = response.Content?.Headers.ContentLength;
            var clock = Stopwatch.StartNew();
            TimeSpan lastReport = TimeSpan.Zero;
            onProgress?.Invoke(new DownloadProgress(0, expected, TimeSpan.Zero));
            BodyRead read = await ResponseBody.CopyToAsync(
                response,
                timeout,
                file.Write,
                chunkSize: BufferSize,
                onChunk: received =>
                {
                    if (onProgress != null && clock.Elapsed - lastReport >= ProgressInterval)
                    {
                        lastReport = clock.Elapsed;
                        onProgress(new DownloadProgress(received, expected, lastReport));
                    }
                }).ConfigureAwait(false);
            if (!read.IsComplete)
            {
                return BodyOutcome.Failed<long>(read);
            }

            file.Flush();
            onProgress?.Invoke(new DownloadProgress(read.BytesReceived, expected, clock.Elapsed));
            return BodyOutcome.Of(read, read.BytesReceived);
        }

        private static void MoveIntoPlace(string temporary, string path, bool noClobber)
        {
            if (noClobber)
            {
                try
                {
                    // Never replaces: link+unlink on Unix, MoveFileEx without REPLACE_EXISTING on Windows.
                    File.Move(temporary, path);
                }
                catch (IOException) when (File.Exists(path))
                {
                    throw new DestinationExistsException(path);
                }
            }
            else if (MoveWithOverwrite != null)
            {
                MoveWithOverwrite(temporary, path, true);
            }
            else if (File.Exists(path))
            {
                File.Replace(temporary, path, destinationBackupFileName: null);
            }
            else
            {
                File.Move(temporary, path);
            }
        }

        private static Action<string, string, bool>? CreateMoveWithOverwrite()
        {
            MethodInfo? method = typeof(File).GetMethod(nameof(File.Move), new[] { typeof(string), typeof(string), typeof(bool) });
            return method is null ? null : (Action<string, string, bool>)method.CreateDelegate(typeof(Action<string, string, bool>));
        }

        private static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // Best effort: the original error is the one worth reporting.
            }
        }

        private static string RandomHex()
        {
            byte[] bytes = new byte[8];
            using (var random = RandomNumberGenerator.Create())
            {
                random.GetBytes(bytes);
            }

            return BitConverter.ToString(bytes).Replace("-", string.Empty).ToLowerInvariant();
        }
    }
}
