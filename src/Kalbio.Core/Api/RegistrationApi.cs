using System;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Api
{
    /// <summary>The registration endpoints of the API (kaleidoscope-api.md, section 3).</summary>
    internal static class RegistrationApi
    {
        /// <summary>
        /// POST /operations/{operationId}/register/{fileId}/results with <paramref name="payload"/> as the body, in one
        /// request. It is sent again only when the server cannot have processed it (429/503, or no connection made).
        /// </summary>
        public static Task SubmitResultsAsync(
            KalConnection connection,
            string operationId,
            string fileId,
            ResultsPayload payload,
            Action<long>? progress,
            IKalLog log,
            CancellationToken cancellation)
        {
            KalIds.Validate(operationId, "OperationId");
            KalIds.Validate(fileId, "FileId");
            var request = new KalRequest(HttpMethod.Post, connection.ApiUri(KalIds.Path("operations", operationId, "register", fileId, "results")))
            {
                RetryMode = RetryMode.OnlyIfNotProcessed,
                CreateContent = () => payload.CreateContent(progress),
                DescribeContent = () => payload.ToText(DebugPreview.SourceLength) ?? $"({payload.Length:N0} bytes of JSON, {payload.RecordCount:N0} records; too long to show)",
            };
            return connection.Http.SendAsync(request, (response, timeout) => Task.FromResult(true), log, cancellation);
        }
    }
}
