using System;
using System.Management.Automation;
using System.Threading;
using Kalbio.Core.Api;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Progress for a download to a file. Nothing in the first second (as Invoke-WebRequest: a quick download never
    /// draws, or pays for, a bar), then bytes, percent, rate and time left (the base class writes at most one a
    /// second), and a Completed record if anything was shown. Silent when progress is off.
    /// </summary>
    internal sealed class DownloadProgressReporter
    {
        private static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

        private readonly KalCmdlet _cmdlet;
        private readonly int _activityId;
        private readonly string _activity;
        private int _shown;

        public DownloadProgressReporter(KalCmdlet cmdlet, int activityId, string activity)
        {
            _cmdlet = cmdlet;
            _activityId = activityId;
            _activity = activity;
            OnProgress = cmdlet.IsProgressEnabled() ? Report : (Action<DownloadProgress>?)null;
        }

        /// <summary>For the download core; called on worker threads. Null when progress is off.</summary>
        public Action<DownloadProgress>? OnProgress { get; }

        /// <summary>Call on the pipeline thread when the download has ended, however it ended.</summary>
        public void Complete()
        {
            if (Volatile.Read(ref _shown) == 1 && !_cmdlet.Stopping)
            {
                _cmdlet.CompleteProgress(new ProgressRecord(_activityId, _activity, "Done"));
            }
        }

        private void Report(DownloadProgress progress)
        {
            if (progress.Elapsed < Delay)
            {
                return;
            }

            Volatile.Write(ref _shown, 1);
            string received = ByteSize.Format(progress.BytesReceived);
            string rate = progress.BytesPerSecond > 0 ? $" ({ByteSize.Format((long)progress.BytesPerSecond)}/s)" : string.Empty;
            var record = new ProgressRecord(
                _activityId,
                _activity,
                progress.TotalBytes is long total ? $"{received} of {ByteSize.Format(total)}{rate}" : $"{received}{rate}");
            if (progress.PercentComplete is int percent)
            {
                record.PercentComplete = percent;
                if (progress.BytesPerSecond > 0)
                {
                    record.SecondsRemaining = (int)Math.Ceiling((progress.TotalBytes!.Value - progress.BytesReceived) / progress.BytesPerSecond);
                }
            }

            _cmdlet.PostProgress(record);
        }
    }
}
