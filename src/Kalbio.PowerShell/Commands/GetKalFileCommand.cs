using System;
using System.IO;
using System.Management.Automation;
using Kalbio.Core.Api;
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
        private const int ProgressActivityId = (int)ProgressActivity.GetKalFile;


        private string? _folder;
        private bool _folderCreated;

        /// <summary>The ids of the files to download; each is also its file name unless -FileName is given.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("file_id")]
        public string[]? FileId { get; set; }

        /// <summary>
        /// Whatever is piped in. A string is a file id; any other object must bring its id by property name
        /// (FileId/file_id, or file_url), so an object's text never becomes an id.
        /// </summary>
        [Parameter(ValueFromPipeline = true, DontShow = true)]
        public PSObject? InputObject { get; set; }

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
            string?[] ids = IdsOfThisRecord();
            if (ids.Length > 1 && !string.IsNullOrEmpty(FileName))
            {
                ThrowTerminatingError(KalErrors.Create(
                    "FileNameWithSeveralIds",
                    ErrorCategory.InvalidArgument,
                    $"-FileName '{FileName}' names one file, but {ids.Length} file ids were given. Download them one at a time to name each, or leave out -FileName to save each under its id.",
                    FileName));
            }

            KalConnection connection = ResolvedConnection;
            foreach (string? id in ids)
            {
                Download(connection, id);
            }
        }

        /// <summary>The ids to download for this pipeline item: -FileId, a piped string, or none when only a file_url is given.</summary>
        private string?[] IdsOfThisRecord()
        {
            if (FileId != null && FileId.Length > 0)
            {
                return FileId;
            }

            object? input = InputObject?.BaseObject;
            if (input is string id)
            {
                return new string?[] { id };
            }

            if (!string.IsNullOrEmpty(Uri))
            {
                return new string?[] { null };
            }

            if (InputObject is null)
            {
                ThrowTerminatingError(KalErrors.Create(
                    "FileIdMissing",
                    ErrorCategory.InvalidArgument,
                    "No file id: give -FileId, or pipe file ids, webhook events or objects with a FileId, file_id or file_url property.",
                    null));
            }

            string what = input is System.Collections.IDictionary
                ? "a hashtable (its keys are not properties; make it a [pscustomobject] to pipe it)"
                : DescribeObject(InputObject!);
            WriteError(KalErrors.Create(
                "FileIdMissing",
                ErrorCategory.InvalidArgument,
                $"The input object, {what}, has no FileId, file_id or file_url property, so there is no file to download. Pipe file ids as strings, or objects with one of those properties, such as webhook events.",
                InputObject));
            return Array.Empty<string?>();
        }

        private static string DescribeObject(PSObject input)
        {
            var names = new System.Collections.Generic.List<string>();
            foreach (PSPropertyInfo property in input.Properties)
            {
                if (names.Count == 8)
                {
                    names.Add("...");
                    break;
                }

                names.Add(property.Name);
            }

            string type = input.BaseObject is PSCustomObject ? "an object" : $"a {input.BaseObject.GetType().Name}";
            return names.Count == 0 ? type : $"{type} with the properties {string.Join(", ", names)}";
        }

        private void Download(KalConnection connection, string? fileId)
        {
            DownloadTarget target;
            try
            {
                target = connection.Client.PlanDownload(fileId, ActivityId, Uri, _folder!, FileName);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, fileId ?? Uri);
                return;
            }

            string shown = fileId ?? target.Name;
            if (NoClobber && File.Exists(target.Path))
            {
                WriteKalError(new DestinationExistsException(target.Path), shown);
                return;
            }

            EnsureFolder();
            WriteVerbose($"Downloading file '{shown}' from {target.SourceDescription} to '{target.Path}'.");
            var progress = new DownloadProgressReporter(this, ProgressActivityId, $"Downloading {target.Name}");
            try
            {
                FileInfo file = Run(cancellation => connection.Client.DownloadFileAsync(target, NoClobber, progress.OnProgress, Log, cancellation));
                WriteObject(AsFileItem(file));
            }
            catch (KalApiException ex)
            {
                ErrorRecord record = KalErrors.ToErrorRecord(ex, shown, notFoundErrorId: "FileNotFound");
                record.ErrorDetails = new ErrorDetails($"Cannot download file '{shown}': {record.Exception.Message}");
                if (ex.Kind == KalErrorKind.NotFound)
                {
                    record.ErrorDetails.RecommendedAction = string.IsNullOrEmpty(ActivityId)
                        ? "Check the file id."
                        : "Check the file id and the activity id; the file must belong to that activity.";
                }
                else
                {
                    record.ErrorDetails.RecommendedAction = KalErrors.RecommendedActionFor(ex);
                }

                WriteError(record);
            }
            catch (KalInputException ex)
            {
                WriteKalError(ex, shown);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ErrorRecord record = KalErrors.ToErrorRecord(ex, shown);
                if (!(ex is DestinationExistsException))
                {
                    record.ErrorDetails = new ErrorDetails($"Cannot save file '{shown}' as '{target.Path}': {ex.Message}");
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

            if (!string.IsNullOrEmpty(Destination) && !Directory.Exists(folder) && !File.Exists(folder) && Path.GetExtension(folder).Length > 1)
            {
                WriteWarning($"The destination '{folder}' does not exist yet and looks like a file name ('{Path.GetFileName(folder)}'). -Destination is the folder to save into, so a folder of that name will be created. To name the file, use -FileName.");
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
