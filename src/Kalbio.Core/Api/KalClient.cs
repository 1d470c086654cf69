using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Model;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// The whole operations on one tenant: connect, download a file to a folder, call any path, and the registration
    /// lifecycle. Callers pass ids, names and payloads and get typed results, or a <see cref="KalInputException"/>
    /// (before anything is sent) or <see cref="KalApiException"/> that carries a structured reason; requests and the
    /// HTTP pipeline stay inside.
    /// </summary>
    internal sealed class KalClient : IDisposable
    {
        private readonly HttpSender _sender;

        /// <summary>
        /// Checks the options, then builds the HTTP pipeline whole: the sender first, the token manager on its own
        /// token-less pipeline, then the API pipeline over both.
        /// </summary>
        internal KalClient(KalConnectionOptions options)
        {
            options.Validate();
            Options = options;
            Redactor = new Redactor();
            Redactor.Pin(options.ClientSecret);
            foreach (KeyValuePair<string, string> header in options.AdditionalHeaders)
            {
                Redactor.Pin(header.Value);
                // A server may echo the credentials of "Bearer <token>" without the scheme.
                int space = header.Value.LastIndexOf(' ');
                if (space > 0 && Redactor.IsSecretHeader(header.Key))
                {
                    Redactor.Pin(header.Value.Substring(space + 1));
                }
            }

            _sender = new HttpSender(options, Redactor);
            var retry = new RetryPolicy(options);
            Tokens = new TokenManager(new KalHttpPipeline(_sender, retry, tokens: null), options, Redactor);
            Http = new KalHttpPipeline(_sender, retry, Tokens);
        }

        public Uri BaseUri => Options.BaseUri;

        internal KalConnectionOptions Options { get; }

        internal KalHttpPipeline Http { get; }

        internal TokenManager Tokens { get; }

        internal Redactor Redactor { get; }

        /// <summary>A URI on the API for a relative path such as <c>files/abc</c>.</summary>
        internal Uri ApiUri(string relativePath) => new Uri(Options.BaseUri, relativePath.TrimStart('/'));

        /// <summary>Obtains the first token now, so wrong credentials or a wrong address fail here and not at first use.</summary>
        public Task ConnectAsync(IKalLog log, CancellationToken cancellation) => Tokens.GetAccessTokenAsync(log, cancellation);

        /// <summary>Checks one download (see <see cref="FilesApi.Plan"/>) without sending anything.</summary>
        public DownloadTarget PlanDownload(string? fileId, string? activityId, string? fileUrl, string folder, string? fileName) =>
            FilesApi.Plan(this, fileId, activityId, fileUrl, folder, fileName);

        /// <summary>Downloads a planned file atomically into its folder (which must exist) and returns it.</summary>
        public Task<FileInfo> DownloadFileAsync(DownloadTarget target, bool noClobber, Action<DownloadProgress>? onProgress, IKalLog log, CancellationToken cancellation) =>
            FilesApi.DownloadAsync(this, target, noClobber, onProgress, log, cancellation);

        /// <summary>Checks a call on any API path (see <see cref="GenericApi.Prepare"/>) without sending anything.</summary>
        public ApiCall PrepareCall(string method, string path, string query, byte[]? jsonBody, bool expectJson) =>
            GenericApi.Prepare(this, method, path, query, jsonBody, expectJson);

        /// <summary>Sends a prepared call and reads its answer as <paramref name="mode"/> asks.</summary>
        public Task<ApiResponse> SendAsync(ApiCall call, ApiResponseMode mode, IKalLog log, CancellationToken cancellation) =>
            GenericApi.SendAsync(this, call.Request, mode, log, cancellation);

        /// <summary>Sends a prepared call and saves its body as <paramref name="path"/>, atomically, replacing any file there.</summary>
        public Task<FileInfo> SaveAsync(ApiCall call, string path, Action<DownloadProgress>? onProgress, IKalLog log, CancellationToken cancellation) =>
            FileDownload.SaveAsync(Http, call.Request, path, noClobber: false, onProgress, log, cancellation);

        public Task<RegistrationFile> RegisterFileAsync(RegistrationRef registration, IKalLog log, CancellationToken cancellation) =>
            RegistrationsApi.RegisterAsync(this, registration, log, cancellation);

        /// <summary>Every registration of the operation (a file id in <paramref name="operation"/> does not narrow it).</summary>
        public Task<List<RegistrationFile>> GetRegistrationsAsync(RegistrationRef operation, IKalLog log, CancellationToken cancellation) =>
            RegistrationsApi.GetRegistrationsAsync(this, operation, log, cancellation);

        /// <summary>The registration of the file, as the server holds it now; null when the operation does not list it.</summary>
        public async Task<RegistrationFile?> FindRegistrationAsync(RegistrationRef registration, IKalLog log, CancellationToken cancellation)
        {
            List<RegistrationFile> all = await RegistrationsApi.GetRegistrationsAsync(this, registration, log, cancellation).ConfigureAwait(false);
            return all.FirstOrDefault(r => string.Equals(r.FileId, registration.RequiredFileId, StringComparison.Ordinal));
        }

        public Task SetStatusAsync(RegistrationRef registration, string status, string? message, IKalLog log, CancellationToken cancellation) =>
            RegistrationsApi.SetStatusAsync(this, registration, status, message, log, cancellation);

        /// <summary>Submits the results of a file in one request; <paramref name="onSent"/> gets the bytes sent so far.</summary>
        public Task SubmitResultsAsync(RegistrationRef registration, ResultsPayload payload, Action<long>? onSent, IKalLog log, CancellationToken cancellation) =>
            RegistrationsApi.SubmitResultsAsync(this, registration, payload, onSent, log, cancellation);

        public void Dispose() => _sender.Dispose();
    }
}
