using System;
using System.Buffers;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Core.Json
{
    /// <summary>
    /// A temporary file that holds the spooled part of a <see cref="ChunkedBuffer"/>, written once and read from the
    /// start any number of times. It never outlives its handle: on Unix its name is removed as soon as it is opened
    /// (the open handle keeps the bytes), and on Windows the system deletes it when the handle closes. So nothing is
    /// left behind on any exit, Ctrl+C, an exception or a killed process included.
    /// </summary>
    internal sealed class SpoolFile : IDisposable
    {
        /// <summary>The prefix of the file's name, e.g. kalbio-results-3f6c2a9e.tmp in the temporary folder.</summary>
        public const string NamePrefix = "kalbio-results-";

        private const int CopyBufferSize = 256 * 1024;

        private readonly FileStream _file;
        private long _length;

        private SpoolFile(FileStream file) => _file = file;

        public long Length => _length;

        public static SpoolFile Create()
        {
            string path = Path.Combine(Path.GetTempPath(), NamePrefix + Guid.NewGuid().ToString("N") + ".tmp");
            bool windows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
            var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1, windows ? FileOptions.DeleteOnClose : FileOptions.None);
            if (!windows)
            {
                try
                {
                    File.Delete(path);
                }
                catch
                {
                    file.Dispose();
                    throw;
                }
            }

            return new SpoolFile(file);
        }

        public void Append(byte[] bytes, int count)
        {
            _file.Position = _length;
            _file.Write(bytes, 0, count);
            _length += count;
        }

        /// <summary>Copies the whole file to <paramref name="destination"/>; returns the bytes copied.</summary>
        public async Task<long> CopyToAsync(Stream destination, Action<long>? progress, CancellationToken cancellation)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            try
            {
                _file.Position = 0;
                long copied = 0;
                while (copied < _length)
                {
                    int read = await _file.ReadAsync(buffer, 0, (int)Math.Min(buffer.Length, _length - copied), cancellation).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new IOException("The spooled results body ended early.");
                    }

                    await destination.WriteAsync(buffer, 0, read, cancellation).ConfigureAwait(false);
                    copied += read;
                    progress?.Invoke(copied);
                }

                return copied;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        /// <summary>Reads the whole file into the start of <paramref name="destination"/>; returns the bytes read.</summary>
        public int ReadAll(byte[] destination)
        {
            _file.Position = 0;
            int offset = 0;
            while (offset < _length)
            {
                int read = _file.Read(destination, offset, (int)_length - offset);
                if (read == 0)
                {
                    throw new IOException("The spooled results body ended early.");
                }

                offset += read;
            }

            return offset;
        }

        public void Dispose() => _file.Dispose();
    }
}
