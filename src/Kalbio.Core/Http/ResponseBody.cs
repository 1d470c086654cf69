using System;
using System.IO;
using System.Net.Http;
using System.Text;
using System.Threading.Tasks;

namespace Kalbio.Core.Http
{
    /// <summary>How reading a response body ended.</summary>
    internal enum BodyReadResult
    {
        /// <summary>Every byte arrived (or the limit was reached).</summary>
        Complete,

        /// <summary>The connection failed while the body was being read.</summary>
        BrokenOff,

        /// <summary>The body ended before the length its Content-Length announced.</summary>
        Truncated,

        /// <summary>Nothing arrived for the request's timeout.</summary>
        TimedOut,
    }

    /// <summary>The outcome of reading a body: how it ended and how far it got. Only the reader knows which is which.</summary>
    internal readonly struct BodyRead
    {
        public BodyRead(BodyReadResult result, long bytesReceived, long? bytesExpected, Exception? cause = null)
        {
            Result = result;
            BytesReceived = bytesReceived;
            BytesExpected = bytesExpected;
            Cause = cause;
        }

        public BodyReadResult Result { get; }

        public long BytesReceived { get; }

        /// <summary>The Content-Length the server announced; null when it sent none.</summary>
        public long? BytesExpected { get; }

        /// <summary>What the transport reported, for a body that broke off or timed out.</summary>
        public Exception? Cause { get; }

        public bool IsComplete => Result == BodyReadResult.Complete;
    }

    /// <summary>
    /// The one way a response body is read: each read restarts the request's timeout, a limit stops reading early,
    /// and a failure of the connection comes back as a <see cref="BodyRead"/> (not an exception), so the caller
    /// classifies it. Exceptions from the sink (a full disk) are the sink's and propagate as they are.
    /// </summary>
    internal static class ResponseBody
    {
        /// <summary>How much of an error response is read: enough for the server's message, never a whole download.</summary>
        public const int ErrorBodyLimit = 64 * 1024;

        private const int ChunkSize = 64 * 1024;
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        /// <summary>
        /// Copies the body into <paramref name="sink"/> from its first byte, up to <paramref name="limit"/> bytes.
        /// <paramref name="onChunk"/> is called after each chunk with the bytes received so far.
        /// The caller's cancellation throws; the request's own timeout is a <see cref="BodyReadResult.TimedOut"/>.
        /// </summary>
        public static async Task<BodyRead> CopyToAsync(
            HttpResponseMessage response,
            RequestTimeout timeout,
            Action<byte[], int, int> sink,
            long limit = long.MaxValue,
            int chunkSize = ChunkSize,
            Action<long>? onChunk = null)
        {
            long? expected = response.Content?.Headers.ContentLength;
            if (response.Content is null)
            {
                return new BodyRead(BodyReadResult.Complete, 0, expected);
            }

            long received = 0;
            Stream? body = null;
            try
            {
                byte[] chunk = new byte[(int)Math.Min(chunkSize, Math.Max(limit, 1))];
                while (received < limit)
                {
                    int read;
                    try
                    {
                        body ??= await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
                        read = await body.ReadAsync(chunk, 0, (int)Math.Min(chunk.Length, limit - received), timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException ex) when (timeout.HasExpired)
                    {
                        return new BodyRead(BodyReadResult.TimedOut, received, expected, ex);
                    }
                    catch (Exception ex) when (ex is IOException || ex is HttpRequestException)
                    {
                        return new BodyRead(BodyReadResult.BrokenOff, received, expected, ex);
                    }

                    if (read == 0)
                    {
                        return expected is long announced && received != announced
                            ? new BodyRead(BodyReadResult.Truncated, received, expected)
                            : new BodyRead(BodyReadResult.Complete, received, expected);
                    }

                    timeout.Restart();
                    sink(chunk, 0, read);
                    received += read;
                    onChunk?.Invoke(received);
                }

                return new BodyRead(BodyReadResult.Complete, received, expected);
            }
            finally
            {
                body?.Dispose();
            }
        }

        /// <summary>Reads the body into memory, up to <paramref name="limit"/> bytes.</summary>
        public static async Task<(BodyRead Read, ArraySegment<byte> Bytes)> ReadBytesAsync(
            HttpResponseMessage response, RequestTimeout timeout, long limit)
        {
            using var buffer = new MemoryStream();
            BodyRead read = await CopyToAsync(response, timeout, buffer.Write, limit).ConfigureAwait(false);
            return (read, new ArraySegment<byte>(buffer.GetBuffer(), 0, (int)buffer.Length));
        }

        /// <summary>Reads the body as UTF-8 text, up to <paramref name="limit"/> bytes.</summary>
        public static async Task<(BodyRead Read, string Text)> ReadTextAsync(
            HttpResponseMessage response, RequestTimeout timeout, long limit)
        {
            (BodyRead read, ArraySegment<byte> bytes) = await ReadBytesAsync(response, timeout, limit).ConfigureAwait(false);
            return (read, Utf8.GetString(bytes.Array!, bytes.Offset, bytes.Count));
        }
    }
}
