using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Http;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// The registration endpoints of the API (kaleidoscope-api.md, section 3): register a file, list an operation's
    /// registrations, push a status, submit the results. The ids come validated in a <see cref="RegistrationRef"/>.
    /// </summary>
    internal static class RegistrationsApi
    {

        /// <summary><c>POST /operations/{operation_id}/register/{file_id}</c> with <c>{}</c>.</summary>
        public static async Task<RegistrationFile> RegisterAsync(KalClient client, RegistrationRef registration, IKalLog log, CancellationToken cancellation)
        {
            var request = new KalRequest(HttpMethod.Post, client.ApiUri(KalIds.Path("operations", registration.OperationId, "register", registration.RequiredFileId)));
            SetJsonBody(request, Encoding.UTF8.GetBytes("{}"));
            string text = await client.Http.SendForTextAsync(request, log, cancellation).ConfigureAwait(false);
            return ParseResponse(client, request, text, root => RegistrationFileReader.Read(root));
        }

        /// <summary><c>GET /operations/{operation_id}/registrations</c>: every registration file of the operation, with its record errors.</summary>
        public static async Task<List<RegistrationFile>> GetRegistrationsAsync(KalClient client, RegistrationRef operation, IKalLog log, CancellationToken cancellation)
        {
            var request = new KalRequest(HttpMethod.Get, client.ApiUri(KalIds.Path("operations", operation.OperationId, "registrations")));
            string text = await client.Http.SendForTextAsync(request, log, cancellation).ConfigureAwait(false);
            return ParseResponse(client, request, text, RegistrationFileReader.ReadList);
        }

        /// <summary><c>POST /operations/{operation_id}/registration_files/{file_id}/status</c> with the status and, when given, the message.</summary>
        public static async Task SetStatusAsync(KalClient client, RegistrationRef registration, string status, string? message, IKalLog log, CancellationToken cancellation)
        {
            status = RegistrationStatus.Normalize(status);
            var request = new KalRequest(HttpMethod.Post, client.ApiUri(KalIds.Path("operations", registration.OperationId, "registration_files", registration.RequiredFileId, "status")))
            {
                // Setting a status is absolute (the same push twice leaves the same state), so an unclear failure may be retried.
                RetryMode = RetryMode.Idempotent,
            };
            SetJsonBody(request, StatusBody(status, message));
            await client.Http.SendForTextAsync(request, log, cancellation).ConfigureAwait(false);
        }

        /// <summary>
        /// <c>POST /operations/{operation_id}/register/{file_id}/results</c> with <paramref name="payload"/> as the body, in one
        /// request. It is sent again only when the server cannot have processed it (429/503, or no connection made).
        /// </summary>
        public static Task SubmitResultsAsync(KalClient client, RegistrationRef registration, ResultsPayload payload, Action<long>? progress, IKalLog log, CancellationToken cancellation)
        {
            var request = new KalRequest(HttpMethod.Post, client.ApiUri(KalIds.Path("operations", registration.OperationId, "register", registration.RequiredFileId, "results")))
            {
                RetryMode = RetryMode.OnlyIfNotProcessed,
                CreateContent = () => payload.CreateContent(progress),
                DescribeContent = () => payload.ToText(DebugPreview.SourceLength) ?? $"({payload.Length:N0} bytes of JSON, {payload.RecordCount:N0} records; too long to show)",
            };
            return client.Http.SendAsync(request, (response, timeout) => Task.FromResult(true), log, cancellation);
        }

        internal static byte[] StatusBody(string status, string? message)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, JsonValueWriter.WriterOptions))
            {
                writer.WriteStartObject();
                writer.WriteString("status", status);
                if (message != null)
                {
                    // Utf8JsonWriter would write U+FFFD for a lone surrogate: the message is refused rather than sent altered.
                    if (UnicodeText.Problem(message) is string problem)
                    {
                        throw new KalInputException("UnsupportedJsonValue", $"The message {problem} and cannot be sent as JSON.", "Message", message);
                    }

                    writer.WriteString("message", message);
                }

                writer.WriteEndObject();
            }

            return buffer.ToArray();
        }

        private static void SetJsonBody(KalRequest request, byte[] body)
        {
            request.CreateContent = () =>
            {
                var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                return content;
            };
            request.DescribeContent = () => Encoding.UTF8.GetString(body);
        }

        private static T ParseResponse<T>(KalClient client, KalRequest request, string text, Func<JsonElement, T> read)
        {
            string path = request.Uri.AbsolutePath;
            try
            {
                using JsonDocument document = JsonDocument.Parse(text);
                return read(document.RootElement);
            }
            catch (Exception ex) when (ex is JsonException || ex is FormatException)
            {
                string start = ServerMessage.Shorten(client.Redactor.Redact(text));
                string reason = ex is JsonException ? (text.Length == 0 ? "an empty body" : $"a body that is not JSON ('{start}')") : ex.Message;
                throw new KalApiException(
                    KalErrorKind.InvalidResponse,
                    request.Method.Method,
                    path,
                    $"{request.Method} {path} succeeded but the server answered with {reason}, so the registration cannot be read.",
                    responseBody: text.Length == 0 ? null : start,
                    innerException: ex);
            }
        }
    }
}
