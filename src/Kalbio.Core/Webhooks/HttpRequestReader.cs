using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Core.Webhooks
{
    /// <summary>A request the listener refuses: the status to answer with and why.</summary>
    internal sealed class HttpRefusal : Exception
    {
        public HttpRefusal(int status, string reason, string message)
            : base(message)
        {
            Status = status;
            Reason = reason;
        }

        public int Status { get; }

        public string Reason { get; }
    }

    /// <summary>The start of an HTTP/1.x request: request line and headers.</summary>
    internal sealed class HttpRequestHead
    {
        private static readonly char[] QueryOrFragment = { '?', '#' };

        public HttpRequestHead(string method, string target, string version, List<KeyValuePair<string, string>> headers)
        {
            Method = method;
            Target = target;
            Version = version;
            Headers = headers;
        }

        public string Method { get; }

        /// <summary>The request target as sent (origin form <c>/path?query</c>, or absolute form).</summary>
        public string Target { get; }

        public string Version { get; }

        public List<KeyValuePair<string, string>> Headers { get; }

        /// <summary>The target's path, percent-decoded, without the query.</summary>
        public string Path
        {
            get
            {
                string path = Target;
                if (Uri.TryCreate(Target, UriKind.Absolute, out Uri? absolute) && (absolute.Scheme == Uri.UriSchemeHttp || absolute.Scheme == Uri.UriSchemeHttps))
                {
                    path = absolute.AbsolutePath;
                }

                int query = path.IndexOfAny(QueryOrFragment);
                if (query >= 0)
                {
                    path = path.Substring(0, query);
                }

                return Uri.UnescapeDataString(path);
            }
        }

        public IEnumerable<string> Values(string name)
        {
            foreach (KeyValuePair<string, string> header in Headers)
            {
                if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    yield return header.Value;
                }
            }
        }
    }

    /// <summary>
    /// Reads one HTTP/1.x request from a stream: the head within a size limit, then a body framed by Content-Length or
    /// chunked transfer coding, within a size limit. Anything malformed or too large is an <see cref="HttpRefusal"/>.
    /// </summary>
    internal sealed class HttpRequestReader
    {
        public const int MaximumHeadBytes = 32 * 1024;
        private const int MaximumChunkLineBytes = 1024;

        // A line's limit counts its bytes before the LF, so the head's last LF is kept back: the whole head, CRLFs
        // included, is then at most MaximumHeadBytes.
        private const int HeadLineBudget = MaximumHeadBytes - 1;

        private readonly Stream _stream;
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public HttpRequestReader(Stream stream) => _stream = stream;

        /// <summary>Reads the request line and headers; null when the peer closed the connection before sending anything.</summary>
        public async Task<HttpRequestHead?> ReadHeadAsync(CancellationToken cancellation)
        {
            int budget = HeadLineBudget;
            string? requestLine;
            if (_start == _end && !await FillAsync(cancellation).ConfigureAwait(false))
            {
                return null;
            }

            RefuseNonHttp(_buffer[_start]);
            do
            {
                // RFC 9112 2.2: ignore empty lines before the request line.
                requestLine = await ReadLineAsync(budget, allowCleanEnd: true, cancellation, head: true).ConfigureAwait(false);
                if (requestLine is null)
                {
                    return null;
                }

                budget -= requestLine.Length + 2;
            }
            while (requestLine.Length == 0);

            foreach (char c in requestLine)
            {
                if (c < ' ' || c >= 127)
                {
                    throw new HttpRefusal(400, "Bad Request", "The request line has a character that is not allowed there.");
                }
            }

            string[] parts = requestLine.Split(' ');
            if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new HttpRefusal(400, "Bad Request", "The request line is malformed.");
            }

            if (parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0")
            {
                throw new HttpRefusal(505, "HTTP Version Not Supported", $"Only HTTP/1.0 and HTTP/1.1 are supported, not {Printable.Ascii(parts[2])}.");
            }

            var headers = new List<KeyValuePair<string, string>>();
            while (true)
            {
                string line = await ReadLineAsync(budget, allowCleanEnd: false, cancellation, head: true).ConfigureAwait(false) ?? string.Empty;
                budget -= line.Length + 2;
                if (line.Length == 0)
                {
                    break;
                }

                if (line[0] == ' ' || line[0] == '\t')
                {
                    throw new HttpRefusal(400, "Bad Request", "A header line is folded onto the next line (obsolete line folding).");
                }

                int colon = line.IndexOf(':');
                if (colon <= 0 || !IsToken(line, colon))
                {
                    throw new HttpRefusal(400, "Bad Request", "A header line is malformed.");
                }

                headers.Add(new KeyValuePair<string, string>(line.Substring(0, colon), line.Substring(colon + 1).Trim(' ', '\t')));
            }

            var result = new HttpRequestHead(parts[0], parts[1], parts[2], headers);
            int hosts = 0;
            foreach (string host in result.Values("Host"))
            {
                hosts++;
            }

            if (hosts > 1 || (hosts == 0 && parts[2] == "HTTP/1.1"))
            {
                throw new HttpRefusal(400, "Bad Request", hosts == 0 ? "An HTTP/1.1 request must have a Host header." : "The request has more than one Host header.");
            }

            return result;
        }

        /// <summary>Works out how the body is framed: its Content-Length, or null for chunked.</summary>
        public static long? BodyLength(HttpRequestHead head, int limit)
        {
            var transferEncodings = new List<string>(head.Values("Transfer-Encoding"));
            var contentLengths = new List<string>(head.Values("Content-Length"));
            if (transferEncodings.Count > 0)
            {
                if (contentLengths.Count > 0)
                {
                    throw new HttpRefusal(400, "Bad Request", "The request has both Transfer-Encoding and Content-Length.");
                }

                string codings = string.Join(",", transferEncodings).Trim();
                if (!string.Equals(codings, "chunked", StringComparison.OrdinalIgnoreCase))
                {
                    throw new HttpRefusal(501, "Not Implemented", $"Transfer-Encoding '{Printable.Ascii(codings)}' is not supported; send the body plain or chunked.");
                }

                return null;
            }

            if (contentLengths.Count == 0)
            {
                return 0;
            }

            long? length = null;
            foreach (string text in string.Join(",", contentLengths).Split(','))
            {
                string trimmed = text.Trim();
                if (trimmed.Length == 0 || trimmed.Length > 18 || !IsDigits(trimmed))
                {
                    throw new HttpRefusal(400, "Bad Request", "Content-Length is not a number.");
                }

                long value = long.Parse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture);
                if (length.HasValue && length.Value != value)
                {
                    throw new HttpRefusal(400, "Bad Request", "Content-Length is given twice with different values.");
                }

                length = value;
            }

            if (length > limit)
            {
                throw TooLarge(limit);
            }

            return length;
        }

        /// <summary>
        /// Reads the body: <paramref name="contentLength"/> bytes, or chunks when null; never more than
        /// <paramref name="limit"/> bytes. Memory grows with the bytes that actually arrive, never with a declared size.
        /// </summary>
        public async Task<byte[]> ReadBodyAsync(long? contentLength, int limit, CancellationToken cancellation)
        {
            using var collected = new MemoryStream();
            if (contentLength.HasValue)
            {
                if (contentLength.Value > limit)
                {
                    throw TooLarge(limit);
                }

                await CopyAsync(collected, (int)contentLength.Value, cancellation).ConfigureAwait(false);
                return collected.ToArray();
            }

            while (true)
            {
                string line = await ReadLineAsync(MaximumChunkLineBytes, allowCleanEnd: false, cancellation).ConfigureAwait(false) ?? string.Empty;
                int extension = line.IndexOf(';');
                // Stryker disable once Equality : a line starting with ';' is refused either way (an empty size, or ';' is not hex)
                string hex = (extension >= 0 ? line.Substring(0, extension) : line).TrimEnd(' ', '\t');
                if (hex.Length == 0 || hex.Length > 8 || !int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int size) || size < 0)
                {
                    throw new HttpRefusal(400, "Bad Request", "A chunk size is malformed.");
                }

                if (size == 0)
                {
                    // Trailer fields, if any, end with an empty line; they are ignored.
                    int budget = HeadLineBudget;
                    string trailer;
                    do
                    {
                        trailer = await ReadLineAsync(budget, allowCleanEnd: false, cancellation, head: true).ConfigureAwait(false) ?? string.Empty;
                        budget -= trailer.Length + 2;
                    }
                    while (trailer.Length > 0);

                    return collected.ToArray();
                }

                if (collected.Length + size > limit)
                {
                    throw TooLarge(limit);
                }

                await CopyAsync(collected, size, cancellation).ConfigureAwait(false);
                // Stryker disable once Boolean : a clean end here reads on to the next chunk line, which finds the same end and refuses it alike
                string end = await ReadLineAsync(2, allowCleanEnd: false, cancellation).ConfigureAwait(false) ?? string.Empty;
                if (end.Length != 0)
                {
                    throw new HttpRefusal(400, "Bad Request", "A chunk is longer than its size says.");
                }
            }
        }

        public static HttpRefusal TooLarge(int limit) =>
            new HttpRefusal(413, "Content Too Large", $"The body is larger than the limit of {limit} bytes.");

        /// <summary>Moves <paramref name="count"/> body bytes into <paramref name="target"/> as they arrive.</summary>
        private async Task CopyAsync(MemoryStream target, int count, CancellationToken cancellation)
        {
            while (count > 0)
            {
                if (_start == _end && !await FillAsync(cancellation).ConfigureAwait(false))
                {
                    throw new HttpRefusal(400, "Bad Request", "The connection closed before the whole body arrived.");
                }

                int take = Math.Min(count, _end - _start);
                target.Write(_buffer, _start, take);
                _start += take;
                count -= take;
            }
        }

        /// <summary>
        /// A line without its CRLF; null on a clean end of stream when allowed. A bare LF, a CR elsewhere or a NUL is
        /// refused (a parser that read them differently could be made to see another request). Bytes are kept one
        /// character each (ISO 8859-1), so a UTF-8 header value can be compared as the bytes it was sent as.
        /// </summary>
        private async Task<string?> ReadLineAsync(int limit, bool allowCleanEnd, CancellationToken cancellation, bool head = false)
        {
            int scanned = 0;
            while (true)
            {
                int newline = Array.IndexOf(_buffer, (byte)'\n', _start + scanned, _end - _start - scanned);
                if (newline >= 0)
                {
                    int length = newline - _start;
                    if (length > limit)
                    {
                        throw LineTooLong(head);
                    }

                    if (length == 0 || _buffer[newline - 1] != (byte)'\r')
                    {
                        throw new HttpRefusal(400, "Bad Request", "A line of the request ends in a bare LF, not CRLF.");
                    }

                    int textLength = length - 1;
                    var line = new StringBuilder(textLength);
                    for (int i = _start; i < _start + textLength; i++)
                    {
                        byte b = _buffer[i];
                        if (b == (byte)'\r' || b == 0)
                        {
                            throw new HttpRefusal(400, "Bad Request", b == 0 ? "The request has a NUL byte in its head." : "The request has a bare CR in its head.");
                        }

                        line.Append((char)b);
                    }

                    _start = newline + 1;
                    return line.ToString();
                }

                scanned = _end - _start;
                if (scanned > limit)
                {
                    throw LineTooLong(head);
                }

                if (!await FillAsync(cancellation).ConfigureAwait(false))
                {
                    if (allowCleanEnd && _start == _end)
                    {
                        return null;
                    }

                    throw new HttpRefusal(400, "Bad Request", "The connection closed in the middle of the request.");
                }
            }
        }

        private async Task<bool> FillAsync(CancellationToken cancellation)
        {
            // Stryker disable once Equality : with _start at 0 the compaction moves nothing, so >= 0 behaves as > 0
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                throw new HttpRefusal(431, "Request Header Fields Too Large", "A line of the request is too long.");
            }

            int read = await _stream.ReadAsync(_buffer, _end, _buffer.Length - _end, cancellation).ConfigureAwait(false);
            _end += read;
            return read > 0;
        }

        private static HttpRefusal LineTooLong(bool head) =>
            head
                ? new HttpRefusal(431, "Request Header Fields Too Large", $"The request head is larger than {MaximumHeadBytes} bytes.")
                : new HttpRefusal(400, "Bad Request", "A chunk line is malformed or too long.");

        private static bool IsToken(string line, int length)
        {
            for (int i = 0; i < length; i++)
            {
                char c = line[i];
                if (c <= ' ' || c >= 127 || "\"(),/:;<=>?@[\\]{}".IndexOf(c) >= 0)
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Refuses at once what cannot begin an HTTP request (a TLS handshake, binary), instead of waiting for a line end.</summary>
        private static void RefuseNonHttp(byte first)
        {
            if (first == 0x16)
            {
                throw new HttpRefusal(400, "Bad Request", "A TLS handshake arrived at a listener that speaks plain HTTP; use http://, or give the listener a certificate so it speaks HTTPS.");
            }

            if (first != (byte)'\r' && (first < (byte)'A' || first > (byte)'Z'))
            {
                throw new HttpRefusal(400, "Bad Request", "This is not an HTTP request.");
            }
        }

        private static bool IsDigits(string text)
        {
            foreach (char c in text)
            {
                if (c < '0' || c > '9')
                {
                    return false;
                }
            }

            return true;
        }
    }
}
