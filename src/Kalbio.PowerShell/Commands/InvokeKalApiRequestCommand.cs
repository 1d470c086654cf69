using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using Kalbio.Core.Api;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Calls any API path with the connection's token, retries, errors and redaction: the way to endpoints that
    /// have no cmdlet yet. JSON answers come back as PowerShell objects (arrays enumerated), text as text;
    /// -OutFile streams the body to a file with Get-KalFile's atomic download.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "KalApiRequest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ResponseSet)]
    [OutputType(typeof(PSObject), typeof(string), ParameterSetName = new[] { ResponseSet })]
    [OutputType(typeof(FileInfo), ParameterSetName = new[] { OutFileSet })]
    public sealed class InvokeKalApiRequestCommand : KalConnectedCmdlet
    {
        private const string ResponseSet = "Response";
        private const string OutFileSet = "OutFile";
        private const int ProgressActivityId = (int)ProgressActivity.InvokeKalApiRequest;


        private byte[]? _body;
        private string _query = string.Empty;
        private string? _outFile;
        private int _requests;

        [Parameter(Mandatory = true, Position = 0)]
        [ValidateSet("GET", "POST", "PUT", "PATCH", "DELETE", IgnoreCase = true)]
        public string Method { get; set; } = "GET";

        /// <summary>Relative to the connection's base URI (<c>programs</c>, <c>/records/abc</c>), or an absolute URL on it.</summary>
        [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = string.Empty;

        /// <summary>A hashtable, custom object or array (written as JSON), or a string sent as it is.</summary>
        [Parameter]
        public object? Body { get; set; }

        /// <summary>Query parameters; values are URL-encoded, an array gives its name once per element, $null leaves it out.</summary>
        [Parameter]
        [ValidateNotNull]
        public IDictionary? Query { get; set; }

        /// <summary>Writes the response body as text, without parsing it.</summary>
        [Parameter(ParameterSetName = ResponseSet)]
        public SwitchParameter Raw { get; set; }

        /// <summary>Streams the response body to this file (atomically, like Get-KalFile) and writes the file item.</summary>
        [Parameter(Mandatory = true, ParameterSetName = OutFileSet)]
        [ValidateNotNullOrEmpty]
        public string OutFile { get; set; } = string.Empty;

        /// <summary>The name of a variable that receives the HTTP status code, also when the server answers with an error.</summary>
        [Parameter(ParameterSetName = ResponseSet)]
        [ValidateNotNullOrEmpty]
        public string? StatusCodeVariable { get; set; }

        /// <summary>The name of a variable that receives the response headers (name -> values) of a successful request.</summary>
        [Parameter(ParameterSetName = ResponseSet)]
        [ValidateNotNullOrEmpty]
        public string? ResponseHeadersVariable { get; set; }

        private string HttpMethodName => Method.ToUpperInvariant();

        protected override void BeginProcessing()
        {
            try
            {
                GenericApi.CheckBodyAllowed(HttpMethodName, Body != null);
                if (Body != null)
                {
                    _body = GenericApi.SerializeBody(PowerShellJsonAdapter.Adapt(Body) ?? Body, PowerShellJsonAdapter.CreateWriter());
                }

                if (Query != null)
                {
                    _query = ApiAddress.FormatQuery(QueryPairs(Query), PowerShellJsonAdapter.Adapt);
                }
            }
            catch (KalInputException ex)
            {
                ThrowKalError(ex, ex.Target);
            }

            if (ParameterSetName == OutFileSet)
            {
                _outFile = ResolveOutFile();
            }
        }

        protected override void ProcessRecord()
        {
            KalConnection connection = ResolvedConnection;
            ApiCall call;
            try
            {
                call = connection.Client.PrepareCall(HttpMethodName, Path, _query, _body, expectJson: _outFile is null);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, Path);
                return;
            }

            if (_outFile != null && ++_requests > 1)
            {
                WriteKalError(
                    new KalInputException("OutFileTakesOnePath", $"-OutFile names one file, so it takes one path; '{Path}' is another. Save each with its own call, e.g. with ForEach-Object.", "OutFile"),
                    Path);
                return;
            }

            if (call.Method != "GET" && !ShouldProcess(call.Address, call.Method))
            {
                return;
            }

            if (_outFile != null)
            {
                Save(connection, call, _outFile);
                return;
            }

            ApiResponseMode mode = Raw ? ApiResponseMode.Text : ApiResponseMode.Parsed;
            try
            {
                using ApiResponse response = Run(cancellation => connection.Client.SendAsync(call, mode, Log, cancellation));
                SetVariable(StatusCodeVariable, response.StatusCode);
                SetVariable(ResponseHeadersVariable, response.Headers);
                WriteResponse(response, call);
            }
            catch (Exception ex) when (IsKalFailure(ex))
            {
                if (ex is KalApiException { StatusCode: int status })
                {
                    SetVariable(StatusCodeVariable, status);
                }

                WriteKalError(ex, Path);
            }
        }

        private void WriteResponse(ApiResponse response, ApiCall call)
        {
            if (response.Json != null)
            {
                object? value;
                try
                {
                    value = PowerShellJsonReader.Convert(response.Json.RootElement);
                }
                catch (JsonShapeException ex)
                {
                    WriteKalError(
                        new KalApiException(
                            KalErrorKind.InvalidResponse,
                            call.Method,
                            call.Description,
                            $"{call.Method} {call.Description} answered JSON that PowerShell objects cannot hold faithfully: {ex.Message}. Use -Raw and parse the text yourself (e.g. ConvertFrom-Json -AsHashtable).",
                            response.StatusCode,
                            innerException: ex),
                        Path);
                    return;
                }

                if (value is object?[] items)
                {
                    WriteObject(items, enumerateCollection: true);
                }
                else if (value != null)
                {
                    WriteObject(value);
                }

                return;
            }

            if (response.Text != null)
            {
                if (!Raw)
                {
                    WriteVerbose($"The response is {response.MediaType}, not JSON; it is written as text.");
                }

                WriteObject(response.Text);
            }
        }

        private void Save(KalConnection connection, ApiCall call, string path)
        {
            string? folder = System.IO.Path.GetDirectoryName(path);
            try
            {
                if (folder != null && !Directory.Exists(folder))
                {
                    WriteVerbose($"Creating the folder '{folder}'.");
                    Directory.CreateDirectory(folder);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ErrorRecord record = KalErrors.ToErrorRecord(ex, OutFile);
                record.ErrorDetails = new ErrorDetails($"Cannot create the folder '{folder}' for -OutFile: {ex.Message}");
                WriteError(record);
                return;
            }

            string name = System.IO.Path.GetFileName(path);
            var progress = new DownloadProgressReporter(this, ProgressActivityId, $"Saving {name}");
            try
            {
                FileInfo file = Run(cancellation => connection.Client.SaveAsync(call, path, progress.OnProgress, Log, cancellation));
                WriteObject(AsFileItem(file));
            }
            catch (Exception ex) when (IsKalFailure(ex))
            {
                WriteKalError(ex, Path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ErrorRecord record = KalErrors.ToErrorRecord(ex, Path);
                record.ErrorDetails = new ErrorDetails($"Cannot save the response of {call.Method} {call.Description} as '{path}': {ex.Message}");
                WriteError(record);
            }
            finally
            {
                progress.Complete();
            }
        }

        private string ResolveOutFile() => ResolveFileSystemPath(OutFile, nameof(OutFile));

        private void SetVariable(string? name, object value)
        {
            if (name != null)
            {
                SessionState.PSVariable.Set(name, value);
            }
        }

        private static IEnumerable<KeyValuePair<string, object?>> QueryPairs(IDictionary query)
        {
            foreach (DictionaryEntry entry in query)
            {
                object? key = entry.Key is PSObject wrapped ? wrapped.BaseObject : entry.Key;
                yield return new KeyValuePair<string, object?>(Convert.ToString(key, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, entry.Value);
            }
        }
    }
}
