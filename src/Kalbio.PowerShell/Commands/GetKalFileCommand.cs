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

        // Like Invoke-WebRequest: a download done within a second never draws (or pays for) a progress bar.
        private static readonly TimeSpan ProgressDelay = TimeSpan.FromSeconds(1);

        private string? _folder;
        private bool _folderCreated;
        private bool _progressEnabled;

        /// <summary>The id of the file to download; also the file name unless -FileName is given.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
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
            _progressEnabled = IsProgressEnabled();
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
            int progressShown = 0;
            Action<DownloadProgress>? onProgress = null;
            if (_progressEnabled)
            {
                onProgress = progress =>
                {
                    if (progress.Elapsed >= ProgressDelay)
                    {
                        Volatile.Write(ref progressShown, 1);
                        PostProgress(ProgressFor(name, progress));
                    }
                };
            }

            try
            {
                FileInfo file = Run(cancellation => FilesApi.DownloadAsync(connection, request, path, NoClobber, onProgress, Log, cancellation));
                WriteObject(AsProviderItem(file));
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
                if (Volatile.Read(ref progressShown) == 1 && !Cancellation.IsCancellationRequested)
                {
                    CompleteProgress(new ProgressRecord(ProgressActivityId, $"Downloading {name}", "Done"));
                }
            }
        }

        /// <summary>The FileInfo as Get-Item gives it (PSPath and friends), so it formats and pipes like any file.</summary>
        private object AsProviderItem(FileInfo file)
        {
            try
            {
                foreach (PSObject item in SessionState.InvokeProvider.Item.Get(new[] { file.FullName }, force: true, literalPath: true))
                {
                    if (item.BaseObject is FileInfo)
                    {
                        return item;
                    }
                }
            }
            catch (Exception ex) when (ex is SessionStateException || ex is ProviderInvocationException || ex is NotSupportedException)
            {
                // Replaced or removed in the meantime: the plain FileInfo still says what was saved where.
            }

            return file;
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
                ProviderInfo provider;
                try
                {
                    folder = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Destination, out provider, out _);
                }
                catch (Exception ex) when (ex is SessionStateException || ex is NotSupportedException || ex is ArgumentException)
                {
                    ThrowTerminatingError(new ErrorRecord(ex, "InvalidDestination", ErrorCategory.InvalidArgument, Destination)
                    {
                        ErrorDetails = new ErrorDetails($"The destination '{Destination}' cannot be resolved: {ex.Message}"),
                    });
                    throw;
                }

                if (provider.Name != "FileSystem")
                {
                    ThrowTerminatingError(KalErrors.Create(
                        "DestinationNotFileSystem",
                        ErrorCategory.InvalidArgument,
                        $"The destination '{Destination}' is on the {provider.Name} provider; give a folder in the file system.",
                        Destination));
                }
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

        private static ProgressRecord ProgressFor(string name, DownloadProgress progress)
        {
            string received = FormatBytes(progress.BytesReceived);
            string rate = progress.BytesPerSecond > 0 ? $" ({FormatBytes((long)progress.BytesPerSecond)}/s)" : string.Empty;
            var record = new ProgressRecord(
                ProgressActivityId,
                $"Downloading {name}",
                progress.TotalBytes is long total ? $"{received} of {FormatBytes(total)}{rate}" : $"{received}{rate}");
            if (progress.PercentComplete is int percent)
            {
                record.PercentComplete = percent;
                if (progress.BytesPerSecond > 0)
                {
                    record.SecondsRemaining = (int)Math.Ceiling((progress.TotalBytes!.Value - progress.BytesReceived) / progress.BytesPerSecond);
                }
            }

            return record;
        }

        private static string FormatBytes(long bytes)
        {
            string[] units = { "B", "KB", "MB", "GB", "TB" };
            double value = bytes;
            int unit = 0;
            while (value >= 1024 && unit < units.Length - 1)
            {
                value /= 1024;
                unit++;
            }

            return unit == 0 ? $"{bytes} B" : $"{value:0.0} {units[unit]}";
        }
    }
}
