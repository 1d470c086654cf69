using System;
using System.IO;
using System.Management.Automation;
using System.Threading;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Downloads registration files into a folder, one FileInfo per file: atomically (a temporary file moved into
    /// place only when complete), streamed in large buffers, retried from scratch on transient failures.
    /// Binds webhook events by property name (file_id, file_name, activity_id, file_url).
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "KalFile")]
    [OutputType(typeof(FileInfo))]
    public sealed class GetKalFileCommand : KalConnectedCmdlet
    {
        private const int ProgressActivityId = 0x4B616C;


        private string? _folder;
        private bool _folderCreated;

        /// <summary>The id of the file to download; also the file name unless -FileName is given.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("file_id")]
        public string FileId { get; set; } = string.Empty;

        /// <summary>The name to save the file under; only its last path segment is used.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("file_name")]
        public string? FileName { get; set; }

        /// <summary>The folder to save into (created if missing); the current location by default.</summary>
        [Parameter(Position = 1)]
        public string? Destination { get; set; }

        /// <summary>Downloads through the activity: /activities/{ActivityId}/file/{FileId}.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("activity_id")]
        public string? ActivityId { get; set; }

        /// <summary>The event's file URL; it takes precedence over the path built from the ids.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("file_url", "FileUrl")]
        public string? Uri { get; set; }

        /// <summary>Fails instead of replacing a file of the same name.</summary>
        [Parameter]
        public SwitchParameter NoClobber { get; set; }

        protected override void BeginProcessing()
        {
            _folder = ResolveDestination();
        }

        protected override void ProcessRecord()
        {
            KalConnection connection = ResolvedConnection;
            KalRequest request;
            string name;
            string path;
            try
            {
                request = FilesApi.DownloadRequest(connection, FileId, ActivityId, Uri);
                name = FilesApi.SaveAsName(FileName, FileId);
                path = FilesApi.PathInFolder(_folder!, name);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, FileId);
                return;
            }

            if (NoClobber && File.Exists(path))
            {
                WriteKalError(new DestinationExistsException(path), FileId);
                return;
            }

            EnsureFolder();
            WriteVerbose($"Downloading file '{FileId}' from {connection.Http.Describe(request.Uri)} to '{path}'.");
            var progress = new DownloadProgressReporter(this, ProgressActivityId, $"Downloading {name}");
            try
            {
                FileInfo file = Run(cancellation => FilesApi.DownloadAsync(connection, request, path, NoClobber, progress.OnProgress, Log, cancellation));
                WriteObject(AsFileItem(file));
            }
            catch (KalApiException ex)
            {
                ErrorRecord record = KalErrors.ToErrorRecord(ex, FileId, notFoundErrorId: "FileNotFound");
                record.ErrorDetails = new ErrorDetails($"Cannot download file '{FileId}': {ex.Message}");
                if (ex.Kind == KalErrorKind.NotFound)
                {
                    record.ErrorDetails.RecommendedAction = string.IsNullOrEmpty(ActivityId)
                        ? "Check the file id."
                        : "Check the file id and the activity id; the file must belong to that activity.";
                }

                WriteError(record);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, FileId);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ErrorRecord record = KalErrors.ToErrorRecord(ex, FileId);
                if (!(ex is DestinationExistsException))
                {
                    record.ErrorDetails = new ErrorDetails($"Cannot save file '{FileId}' as '{path}': {ex.Message}");
                }

                WriteError(record);
            }
            finally
            {
                progress.Complete();
            }
        }

        private string ResolveDestination()
        {
            string folder;
            if (string.IsNullOrEmpty(Destination))
            {
                folder = SessionState.Path.CurrentFileSystemLocation.ProviderPath;
            }
            else
            {
                folder = ResolveFileSystemPath(Destination!, nameof(Destination));
            }

            if (File.Exists(folder))
            {
                ThrowTerminatingError(KalErrors.Create(
                    "DestinationIsFile",
                    ErrorCategory.InvalidArgument,
                    $"The destination '{folder}' is a file. -Destination is the folder to save into; the file name comes from -FileName or the file id.",
                    Destination));
            }

            return folder;
        }

        private void EnsureFolder()
        {
            if (_folderCreated)
            {
                return;
            }

            try
            {
                if (!Directory.Exists(_folder))
                {
                    WriteVerbose($"Creating the folder '{_folder}'.");
                    Directory.CreateDirectory(_folder!);
                }

                _folderCreated = true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ErrorRecord record = KalErrors.ToErrorRecord(ex, Destination);
                record.ErrorDetails = new ErrorDetails($"Cannot create the destination folder '{_folder}': {ex.Message}");
                ThrowTerminatingError(record);
            }
        }

}
}
