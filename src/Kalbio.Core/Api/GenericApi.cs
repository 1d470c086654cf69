using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Http;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Api
{
    /// <summary>What the caller wants from a response body.</summary>
    internal enum ApiResponseMode
    {
        /// <summary>JSON parsed; a text type (text/*, XML...) as text; anything else refused.</summary>
        Parsed,

        /// <summary>The body as text, whatever its type.</summary>
        Text,
    }

    /// <summary>A successful answer to <see cref="GenericApi.SendAsync"/>. Dispose it to release the parsed JSON.</summary>
    internal sealed class ApiResponse : IDisposable
    {
        internal ApiResponse(int statusCode, IReadOnlyDictionary<string, string[]> headers, string? mediaType, string? text, JsonDocument? json)
        {
            StatusCode = statusCode;
            Headers = headers;
            MediaType = mediaType;
            Text = text;
            Json = json;
        }

        public int StatusCode { get; }

        /// <summary>The response and content headers, by name (case-insensitive), in the order received.</summary>
        public IReadOnlyDictionary<string, string[]> Headers { get; }

        /// <summary>The Content-Type without parameters, lower case; null when the server sent none.</summary>
        public string? MediaType { get; }

        /// <summary>The body as text: set for <see cref="ApiResponseMode.Text"/> and for non-JSON text types; null when empty.</summary>
        public string? Text { get; }

        /// <summary>The parsed body for a JSON response in <see cref="ApiResponseMode.Parsed"/>; null when empty.</summary>
        public JsonDocument? Json { get; }

        public void Dispose() => Json?.Dispose();
    }

    /// <summary>One checked call on the API, ready to send (or to save to a file) as often as asked.</summary>
    internal sealed class ApiCall
    {
        internal ApiCall(KalRequest request, string description)
        {
            Request = request;
            Description = description;
        }

        internal KalRequest Request { get; }

        /// <summary>The HTTP method, upper case.</summary>
        public string Method => Request.Method.Method;

        /// <summary>What is called, as messages name it: the API path, or another host's address; never the query.</summary>
        public string Description { get; }

        /// <summary>The address without the query, e.g. for a confirmation prompt.</summary>
        public string Address => Request.Uri.GetLeftPart(UriPartial.Path);
    }

    /// <summary>
    /// Any call on the API (the cmdlet escape hatch): the connection's token, retries, redirects, errors and
    /// redaction, for a path that has no cmdlet of its own.
    /// </summary>
    internal static class GenericApi
    {
        public const string JsonContentType = "application/json";
        private const int JsonMaximumDepth = 256;
        private static readonly byte[] EmptyObject = { (byte)'{', (byte)'}' };
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        /// <summary>
        /// The call of <paramref name="method"/> on <paramref name="path"/> (relative to the API, or an absolute URL on it)
        /// with <paramref name="query"/> (from <see cref="ApiAddress.FormatQuery"/>) and <paramref name="jsonBody"/>.
        /// Throws <see cref="KalInputException"/> for a path or body that can never make a valid request.
        /// </summary>
        public static ApiCall Prepare(KalClient client, string method, string path, string query, byte[]? jsonBody, bool expectJson)
        {
            Uri uri = ApiAddress.WithQuery(ApiAddress.Resolve(client.BaseUri, path), query);
            return new ApiCall(CreateRequest(method, uri, jsonBody, expectJson), client.Http.Describe(uri));
        }

        /// <summary>
        /// The request for <paramref name="method"/> on <paramref name="uri"/> (from <see cref="ApiAddress.Resolve"/>).
        /// <paramref name="jsonBody"/> is sent as application/json; a method other than GET sends <c>{}</c> without
        /// one, as the API refuses an empty JSON body. GET is retried on transient failures, other methods only
        /// when the server cannot have processed them. <paramref name="expectJson"/> false (saving to a file) accepts
        /// any type.
        /// </summary>
        public static KalRequest CreateRequest(string method, Uri uri, byte[]? jsonBody, bool expectJson = true)
        {
            var httpMethod = new HttpMethod(method.ToUpperInvariant());
            bool isGet = httpMethod == HttpMethod.Get;
            CheckBodyAllowed(method, jsonBody != null);

            var request = new KalRequest(httpMethod, uri);
            request.Headers.Add(new KeyValuePair<string, string>("Accept", expectJson ? "application/json, */*;q=0.5" : "*/*"));
            if (!isGet)
            {
                byte[] body = jsonBody ?? EmptyObject;
                request.CreateContent = () =>
                {
                    var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new MediaTypeHeaderValue(JsonContentType) { CharSet = "utf-8" };
                    return content;
                };
                request.DescribeContent = () => Utf8.GetString(body, 0, Math.Min(body.Length, DebugPreview.SourceLength));
            }

            return request;
        }

        /// <summary>Throws when <paramref name="method"/> cannot carry a body and one was given.</summary>
        public static void CheckBodyAllowed(string method, bool hasBody)
        {
            if (hasBody && string.Equals(method, "GET", StringComparison.OrdinalIgnoreCase))
            {
                throw new KalInputException("BodyNotAllowed", "A GET request has no body.", "Body");
            }
        }

        /// <summary>
        /// The request body as UTF-8: text as it is (the caller's own JSON), any other value written as JSON by
        /// <paramref name="writer"/> (types kept, no depth limit short of <see cref="JsonValueWriter.MaximumDepth"/>).
        /// </summary>
        public static byte[] SerializeBody(object value, JsonValueWriter writer)
        {
            if (value is string text)
            {
                // Encoding would write U+FFFD for a lone surrogate: the body is refused rather than sent altered.
                if (UnicodeText.Problem(text) is string problem)
                {
                    throw new KalInputException("UnsupportedJsonValue", $"The body {problem} and cannot be sent.", "Body", text);
                }

                return Utf8.GetBytes(text);
            }

            using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream, JsonValueWriter.WriterOptions))
            {
                writer.Write(json, value, "Body");
            }

            return stream.ToArray();
        }

        public static Task<ApiResponse> SendAsync(KalClient client, KalRequest request, ApiResponseMode mode, IKalLog log, CancellationToken cancellation) =>
            client.Http.SendAndReadAsync(
                request,
                async (response, timeout) =>
                {
                    int status = (int)response.StatusCode;
                    IReadOnlyDictionary<string, string[]> headers = HeadersOf(response);
                    MediaTypeHeaderValue? contentType = response.Content?.Headers.ContentType;
                    string? mediaType = contentType?.MediaType?.ToLowerInvariant();
                    if (response.Content is null || status == 204 || status == 205)
                    {
                        return BodyOutcome.Unread(new ApiResponse(status, headers, mediaType, null, null));
                    }

                    bool json = mediaType is null || IsJson(mediaType);
                    if (mode == ApiResponseMode.Parsed && !json && !IsText(mediaType!))
                    {
                        long? length = response.Content.Headers.ContentLength;
                        throw new KalApiException(
                            KalErrorKind.InvalidResponse,
                            request.Method.Method,
                            client.Http.Describe(request.Uri),
                            $"{request.Method} {client.Http.Describe(request.Uri)} answered {status} with {mediaType}{(length.HasValue ? $" ({length} bytes)" : string.Empty)}, which is neither JSON nor text.",
                            status,
                            reason: KalApiReason.BodyNeitherJsonNorText);
                    }

                    (BodyRead read, ArraySegment<byte> bytes) = await ResponseBody.ReadBytesAsync(response, timeout, long.MaxValue).ConfigureAwait(false);
                    if (!read.IsComplete)
                    {
                        return BodyOutcome.Failed<ApiResponse>(read);
                    }

                    Encoding encoding = EncodingOf(contentType);
                    if (encoding is UTF8Encoding && bytes.Count >= 3 && bytes.Array![bytes.Offset] == 0xEF && bytes.Array[bytes.Offset + 1] == 0xBB && bytes.Array[bytes.Offset + 2] == 0xBF)
                    {
                        bytes = new ArraySegment<byte>(bytes.Array, bytes.Offset + 3, bytes.Count - 3);
                    }

                    if (bytes.Count == 0)
                    {
                        return BodyOutcome.Of(read, new ApiResponse(status, headers, mediaType, null, null));
                    }

                    string? text = mode == ApiResponseMode.Text || !json || log.IsDebugEnabled || !(encoding is UTF8Encoding)
                        ? encoding.GetString(bytes.Array!, bytes.Offset, bytes.Count)
                        : null;
                    if (log.IsDebugEnabled)
                    {
                        log.Debug("Response body: " + DebugPreview.Of(text!, client.Redactor));
                    }

                    if (mode == ApiResponseMode.Text || !json)
                    {
                        return BodyOutcome.Of(read, new ApiResponse(status, headers, mediaType, text, null));
                    }

                    try
                    {
                        var options = new JsonDocumentOptions { MaxDepth = JsonMaximumDepth };
                        JsonDocument document = text is null ? JsonDocument.Parse(bytes.AsMemory(), options) : JsonDocument.Parse(text, options);
                        return BodyOutcome.Of(read, new ApiResponse(status, headers, mediaType, null, document));
                    }
                    catch (JsonException ex)
                    {
                        string start = ServerMessage.Shorten(client.Redactor.Redact(text ?? Utf8.GetString(bytes.Array!, bytes.Offset, Math.Min(bytes.Count, DebugPreview.SourceLength))));
                        throw new KalApiException(
                            KalErrorKind.InvalidResponse,
                            request.Method.Method,
                            client.Http.Describe(request.Uri),
                            $"{request.Method} {client.Http.Describe(request.Uri)} answered {status}{(mediaType is null ? string.Empty : " with " + mediaType)}, but the body is not valid JSON ({ex.Message}). It starts: {start}.",
                            status,
                            responseBody: start,
                            innerException: ex,
                            reason: KalApiReason.BodyNotJson);
                    }
                },
                log,
                cancellation);

        public static bool IsJson(string mediaType) =>
            mediaType == "application/json" || mediaType == "text/json" || mediaType.EndsWith("+json", StringComparison.Ordinal);

        public static bool IsText(string mediaType) =>
            mediaType.StartsWith("text/", StringComparison.Ordinal)
            || mediaType == "application/xml"
            || mediaType.EndsWith("+xml", StringComparison.Ordinal)
            || mediaType == "application/javascript"
            || mediaType == "application/x-www-form-urlencoded"
            || mediaType == "application/yaml"
            || mediaType == "application/x-ndjson";

        private static Dictionary<string, string[]> HeadersOf(HttpResponseMessage response)
        {
            var headers = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            IEnumerable<KeyValuePair<string, IEnumerable<string>>> all = response.Headers;
            if (response.Content != null)
            {
                all = all.Concat(response.Content.Headers);
            }

            foreach (KeyValuePair<string, IEnumerable<string>> header in all)
            {
                headers[header.Key] = header.Value.ToArray();
            }

            return headers;
        }

        private static Encoding EncodingOf(MediaTypeHeaderValue? contentType)
        {
            string? charset = contentType?.CharSet?.Trim('"', ' ');
            if (string.IsNullOrEmpty(charset))
            {
                return Utf8;
            }

            try
            {
                Encoding encoding = Encoding.GetEncoding(charset);
                return encoding is UTF8Encoding ? Utf8 : encoding;
            }
            catch (ArgumentException)
            {
                return Utf8;
            }
        }
    }
}
