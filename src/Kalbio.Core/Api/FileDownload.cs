using System;
using System.Diagnostics;
using System.IO;
using System.Net.Http;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Http;

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
    /// than its Content-Length) is retried from the first byte for idempotent requests. Errors writing the file are
    /// never retried: they surface as the <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> they are.
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
                long length;
                try
                {
                    length = await http.SendAsync(
                        request,
                        (response, timeout) => CopyBodyAsync(response, timeout, file, onProgress),
                        log,
                        cancellation).ConfigureAwait(false);
                }
                catch (FileWriteFailure failure)
                {
                    ExceptionDispatchInfo.Capture(failure.InnerException!).Throw();
                    throw;
                }

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

        /// <summary>One attempt: the body from its first byte, over whatever an earlier attempt left in the file.</summary>
        private static async Task<long> CopyBodyAsync(HttpResponseMessage response, RequestTimeout timeout, FileStream file, Action<DownloadProgress>? onProgress)
        {
            Write(() =>
            {
                file.Position = 0;
                file.SetLength(0);
            });

            long? expected = response.Content?.Headers.ContentLength;
            if (response.Content is null)
            {
                return 0;
            }

            using Stream body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            byte[] buffer = new byte[BufferSize];
            var clock = Stopwatch.StartNew();
            TimeSpan lastReport = TimeSpan.Zero;
            long received = 0;
            onProgress?.Invoke(new DownloadProgress(0, expected, TimeSpan.Zero));
            while (true)
            {
                int read = await body.ReadAsync(buffer, 0, buffer.Length, timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                timeout.Restart();
                try
                {
                    file.Write(buffer, 0, read);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    throw new FileWriteFailure(ex);
                }

                received += read;
                if (onProgress != null && clock.Elapsed - lastReport >= ProgressInterval)
                {
                    lastReport = clock.Elapsed;
                    onProgress(new DownloadProgress(received, expected, lastReport));
                }
            }

            if (expected is long announced && received != announced)
            {
                // An IOException, so the pipeline treats it as a broken connection and retries from scratch.
                throw new IOException($"The response ended after {received:N0} of the {announced:N0} bytes announced by Content-Length.");
            }

            Write(() => file.Flush());
            onProgress?.Invoke(new DownloadProgress(received, expected, clock.Elapsed));
            return received;
        }

        private static void Write(Action write)
        {
            try
            {
                write();
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // Not an IOException any more: the pipeline must not mistake a full disk for a broken connection.
                throw new FileWriteFailure(ex);
            }
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

        private sealed class FileWriteFailure : Exception
        {
            public FileWriteFailure(Exception inner)
                : base(inner.Message, inner)
            {
            }
        }
    }
}
