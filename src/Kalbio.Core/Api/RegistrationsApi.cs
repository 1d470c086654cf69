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
    /// <summary>The registration lifecycle calls: register a file, list an operation's registrations, push a status.</summary>
    internal static class RegistrationsApi
    {
        /// <summary><c>POST /operations/{operation_id}/register/{file_id}</c> with <c>{}</c>.</summary>
        public static async Task<RegistrationFile> RegisterAsync(KalConnection connection, string operationId, string fileId, IKalLog log, CancellationToken cancellation)
        {
            KalIds.Validate(operationId, "OperationId");
            KalIds.Validate(fileId, "FileId");
            var request = new KalRequest(HttpMethod.Post, connection.ApiUri(KalIds.Path("operations", operationId, "register", fileId)));
            SetJsonBody(request, Encoding.UTF8.GetBytes("{}"));
            string text = await connection.Http.SendForTextAsync(request, log, cancellation).ConfigureAwait(false);
            return ParseResponse(connection, request, text, root => RegistrationFileReader.Read(root));
        }

        /// <summary><c>GET /operations/{operation_id}/registrations</c>: every registration file of the operation, with its record errors.</summary>
        public static async Task<List<RegistrationFile>> GetRegistrationsAsync(KalConnection connection, string operationId, IKalLog log, CancellationToken cancellation)
        {
            KalIds.Validate(operationId, "OperationId");
            var request = new KalRequest(HttpMethod.Get, connection.ApiUri(KalIds.Path("operations", operationId, "registrations")));
            string text = await connection.Http.SendForTextAsync(request, log, cancellation).ConfigureAwait(false);
            return ParseResponse(connection, request, text, RegistrationFileReader.ReadList);
        }

        /// <summary><c>POST /operations/{operation_id}/registration_files/{file_id}/status</c> with the status and, when given, the message.</summary>
        public static async Task SetStatusAsync(KalConnection connection, string operationId, string fileId, string status, string? message, IKalLog log, CancellationToken cancellation)
        {
            KalIds.Validate(operationId, "OperationId");
            KalIds.Validate(fileId, "FileId");
            status = RegistrationStatus.Normalize(status);
            var request = new KalRequest(HttpMethod.Post, connection.ApiUri(KalIds.Path("operations", operationId, "registration_files", fileId, "status")))
            {
                // Setting a status is absolute (the same push twice leaves the same state), so an unclear failure may be retried.
                RetryMode = RetryMode.Idempotent,
            };
            SetJsonBody(request, StatusBody(status, message));
            await connection.Http.SendForTextAsync(request, log, cancellation).ConfigureAwait(false);
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

        private static T ParseResponse<T>(KalConnection connection, KalRequest request, string text, Func<JsonElement, T> read)
        {
            string path = request.Uri.AbsolutePath;
            try
            {
                using JsonDocument document = JsonDocument.Parse(text);
                return read(document.RootElement);
            }
            catch (Exception ex) when (ex is JsonException || ex is FormatException)
            {
                string start = ServerMessage.Shorten(connection.Redactor.Redact(text));
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
