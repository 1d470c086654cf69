using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.Core.Webhooks
{
    /// <summary>A spool folder another listener holds.</summary>
    internal sealed class WebhookSpoolInUseException : IOException
    {
        public WebhookSpoolInUseException(string message, Exception inner)
            : base(message, inner)
        {
        }
    }

    /// <summary>An event written to the spool: its file, until the pipeline has returned from it.</summary>
    internal sealed class SpooledEvent
    {
        internal SpooledEvent(string file, RegistrationEvent registrationEvent)
        {
            File = file;
            Event = registrationEvent;
        }

        public string File { get; }

        public RegistrationEvent Event { get; }
    }

    /// <summary>
    /// A folder where accepted webhook events wait until the pipeline has processed them: each is written durably
    /// (temporary file, flushed to disk, renamed into place) before its delivery is answered, and removed only once
    /// processed. The ids of events processed in the last 24 hours are kept too (finished.log), so a sender's repeat is
    /// recognised. One listener at a time: the folder is locked while open.
    /// </summary>
    internal sealed class WebhookSpool : IDisposable
    {
        public static readonly TimeSpan RememberFinished = TimeSpan.FromHours(24);

        private const string LockName = "spool.lock";
        private const string HolderName = "spool.holder";
        private const string FinishedName = "finished.log";
        private const string EventSuffix = ".event.json";
        private const string TemporarySuffix = ".tmp";

        private readonly object _gate = new object();
        private readonly Dictionary<string, DateTimeOffset> _finished = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        private readonly HashSet<string> _spooled = new HashSet<string>(StringComparer.Ordinal);
        private readonly FileStream _lock;
        private FileStream? _finishedLog;
        private long _sequence;
        private int _logLines;
        private int _finishesSinceCompaction;

        private WebhookSpool(string folder, FileStream lockFile, Func<DateTimeOffset> clock)
        {
            Folder = folder;
            _lock = lockFile;
            Clock = clock;
        }

        public string Folder { get; }

        /// <summary>Makes renames and removals in a folder durable; a seam so tests can see when it happens.</summary>
        internal Action<string> SyncFolder { get; set; } = DirectorySync.Flush;

        internal Func<DateTimeOffset> Clock { get; }

        /// <summary>Every this many finished events, ids older than a day are forgotten (and finished.log rewritten when mostly such).</summary>
        internal int CompactEvery { get; set; } = 1024;

        /// <summary>Opens (creating if need be) and locks a spool folder; <see cref="WebhookSpoolInUseException"/> when another listener holds it.</summary>
        public static WebhookSpool Open(string folder) => Open(folder, () => DateTimeOffset.UtcNow);

        internal static WebhookSpool Open(string folder, Func<DateTimeOffset> clock)
        {
            bool created = !Directory.Exists(folder);
            Directory.CreateDirectory(folder);
            string lockPath = Path.Combine(folder, LockName);
            FileStream lockFile;
            try
            {
                lockFile = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException ex) when (IsLockConflict(ex))
            {
                string holder;
                try
                {
                    holder = File.ReadAllText(Path.Combine(folder, HolderName)).Trim();
                }
                catch (Exception readFailure) when (readFailure is IOException || readFailure is UnauthorizedAccessException)
                {
                    holder = "another listener";
                }

                throw new WebhookSpoolInUseException($"The spool folder '{folder}' is in use by {holder}. A spool folder serves one listener at a time.", ex);
            }

            var spool = new WebhookSpool(folder, lockFile, clock);
            try
            {
                string? parent = Path.GetDirectoryName(Path.GetFullPath(folder));
                if (created && parent != null)
                {
                    spool.SyncFolder(parent);
                }

                using (Process self = Process.GetCurrentProcess())
                {
                    File.WriteAllText(Path.Combine(folder, HolderName), $"process {self.Id} on {Environment.MachineName} (since {DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture)})");
                }

                spool.Load();
                return spool;
            }
            catch
            {
                spool.Dispose();
                throw;
            }
        }

        /// <summary>Another open handle holds the file locked (sharing violation on Windows, EWOULDBLOCK from flock elsewhere).</summary>
        private static bool IsLockConflict(IOException exception)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                int code = exception.HResult & 0xFFFF;
                return code == 32 || code == 33;
            }

            // EWOULDBLOCK (= EAGAIN): 11 on Linux, 35 on macOS and the BSDs.
            return exception.HResult == (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? 11 : 35);
        }

        /// <summary>
        /// The events still in the spool, oldest first. A file that is not an event (edited by hand, a disk fault) is
        /// renamed to *.unreadable, named to <paramref name="onUnreadable"/>, and left for a person to look at.
        /// </summary>
        public IReadOnlyList<SpooledEvent> Pending(Action<string, string> onUnreadable)
        {
            var files = new List<string>(Directory.GetFiles(Folder, "*" + EventSuffix));
            files.Sort(StringComparer.Ordinal);
            var pending = new List<SpooledEvent>();
            foreach (string file in files)
            {
                RegistrationEvent spooled;
                try
                {
                    spooled = RegistrationEventReader.Parse(File.ReadAllBytes(file))[0];
                }
                catch (KalInputException ex)
                {
                    File.Move(file, file + ".unreadable");
                    onUnreadable(file + ".unreadable", ex.Message);
                    continue;
                }

                lock (_gate)
                {
                    if (spooled.EventId != null && FinishedRecently(spooled.EventId))
                    {
                        // Processed, but the process ended before the file was removed.
                        File.Delete(file);
                        continue;
                    }

                    if (spooled.EventId != null)
                    {
                        _spooled.Add(spooled.EventId);
                    }
                }

                pending.Add(new SpooledEvent(file, spooled));
            }

            return pending;
        }

        /// <summary>True when an event with this id is in the spool or was processed in the last 24 hours.</summary>
        public bool IsRepeat(string? eventId)
        {
            if (eventId is null)
            {
                return false;
            }

            lock (_gate)
            {
                return _spooled.Contains(eventId) || FinishedRecently(eventId);
            }
        }

        private bool FinishedRecently(string eventId) =>
            _finished.TryGetValue(eventId, out DateTimeOffset at) && at >= Clock() - RememberFinished;

        /// <summary>Writes the event durably; null when it repeats one in the spool or recently processed.</summary>
        public SpooledEvent? Add(RegistrationEvent registrationEvent)
        {
            lock (_gate)
            {
                if (IsRepeat(registrationEvent.EventId))
                {
                    return null;
                }

                string name = DateTime.UtcNow.Ticks.ToString("D19", CultureInfo.InvariantCulture) + "-" + (++_sequence).ToString("D6", CultureInfo.InvariantCulture);
                string file = Path.Combine(Folder, name + EventSuffix);
                try
                {
                    WriteDurably(file, Serialize(registrationEvent));
                }
                catch
                {
                    // Not known to be durable, so not spooled: the delivery is answered 503 and comes again.
                    TryDelete(file);
                    throw;
                }

                if (registrationEvent.EventId != null)
                {
                    _spooled.Add(registrationEvent.EventId);
                }

                return new SpooledEvent(file, registrationEvent);
            }
        }

        /// <summary>The pipeline has processed the event: remember its id, then remove its file.</summary>
        public void Finish(SpooledEvent spooled)
        {
            lock (_gate)
            {
                string? id = spooled.Event.EventId;
                if (id != null && _finishedLog != null)
                {
                    DateTimeOffset now = Clock();
                    byte[] line = Encoding.ASCII.GetBytes(FinishedLine(now, id));
                    _finishedLog.Write(line, 0, line.Length);
                    _finishedLog.Flush(true);
                    _finished[id] = now;
                    _spooled.Remove(id);
                    _logLines++;
                    if (++_finishesSinceCompaction >= CompactEvery)
                    {
                        Compact(now);
                    }
                }

                // Not flushed: should the removal be lost, finished.log names the event, and Pending drops its file.
                File.Delete(spooled.File);
            }
        }

        /// <summary>Forgets ids older than a day; rewrites finished.log when most of its lines are such.</summary>
        private void Compact(DateTimeOffset now)
        {
            _finishesSinceCompaction = 0;
            DateTimeOffset since = now - RememberFinished;
            foreach (string expired in _finished.Where(f => f.Value < since).Select(f => f.Key).ToList())
            {
                _finished.Remove(expired);
            }

            if (_logLines > 2 * _finished.Count)
            {
                _finishedLog?.Dispose();
                _finishedLog = null;
                try
                {
                    RewriteFinishedLog();
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    // The old log is whole (the rewrite replaces it only once written); keep appending, try again later.
                    _finishedLog = new FileStream(Path.Combine(Folder, FinishedName), FileMode.Append, FileAccess.Write, FileShare.Read);
                }
            }
        }

        private void RewriteFinishedLog()
        {
            var kept = new StringBuilder();
            foreach (KeyValuePair<string, DateTimeOffset> finished in _finished.OrderBy(f => f.Value))
            {
                kept.Append(FinishedLine(finished.Value, finished.Key));
            }

            string finishedPath = Path.Combine(Folder, FinishedName);
            WriteDurably(finishedPath, Encoding.ASCII.GetBytes(kept.ToString()));
            _logLines = _finished.Count;
            _finishedLog = new FileStream(finishedPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        }

        private static void TryDelete(string file)
        {
            try
            {
                File.Delete(file);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
            }
        }

        public void Dispose()
        {
            _finishedLog?.Dispose();
            _finishedLog = null;
            _lock.Dispose();
        }

        private void Load()
        {
            foreach (string leftover in Directory.GetFiles(Folder, "*" + TemporarySuffix))
            {
                File.Delete(leftover);
            }

            string finishedPath = Path.Combine(Folder, FinishedName);
            DateTimeOffset since = Clock() - RememberFinished;
            if (File.Exists(finishedPath))
            {
                foreach (string line in File.ReadAllLines(finishedPath))
                {
                    int space = line.IndexOf(' ');
                    if (space > 0
                        && long.TryParse(line.Substring(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out long unixMs)
                        && TryDecode(line.Substring(space + 1), out string id))
                    {
                        DateTimeOffset at = DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
                        if (at >= since)
                        {
                            _finished[id] = at;
                        }
                    }
                }
            }

            // Rewritten so it only ever holds a day of ids.
            RewriteFinishedLog();
        }

        private static string FinishedLine(DateTimeOffset at, string id) =>
            at.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + " " + Convert.ToBase64String(Encoding.UTF8.GetBytes(id)) + "\n";

        private static bool TryDecode(string base64, out string id)
        {
            try
            {
                id = Encoding.UTF8.GetString(Convert.FromBase64String(base64.Trim()));
                return true;
            }
            catch (FormatException)
            {
                id = string.Empty;
                return false;
            }
        }

        /// <summary>Temporary file, flushed, renamed into place, and the folder flushed: once this returns, a power loss keeps it.</summary>
        private void WriteDurably(string path, byte[] content)
        {
            string temporary = path + "." + Guid.NewGuid().ToString("N") + TemporarySuffix;
            try
            {
                using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    stream.Write(content, 0, content.Length);
                    stream.Flush(true);
                }

                if (File.Exists(path))
                {
                    File.Replace(temporary, path, null);
                }
                else
                {
                    File.Move(temporary, path);
                }

                SyncFolder(Folder);
            }
            finally
            {
                if (File.Exists(temporary))
                {
                    File.Delete(temporary);
                }
            }
        }

        /// <summary>The event in the webhook's own field names, so reading it back is reading a delivery.</summary>
        private static byte[] Serialize(RegistrationEvent e)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                WriteIfGiven(writer, "event_type", e.EventType);
                WriteIfGiven(writer, "event_id", e.EventId);
                if (e.CreatedAt.HasValue)
                {
                    writer.WriteString("created_at", e.CreatedAt.Value.ToString("O", CultureInfo.InvariantCulture));
                }

                writer.WriteString("operation_id", e.OperationId);
                writer.WriteString("file_id", e.FileId);
                WriteIfGiven(writer, "file_name", e.FileName);
                WriteIfGiven(writer, "file_url", e.FileUrl);
                WriteIfGiven(writer, "activity_id", e.ActivityId);
                writer.WriteStartArray("record_ids");
                foreach (string id in e.RecordIds)
                {
                    writer.WriteStringValue(id);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            return buffer.ToArray();
        }

        private static void WriteIfGiven(Utf8JsonWriter writer, string name, string? value)
        {
            if (value != null)
            {
                writer.WriteString(name, value);
            }
        }
    }

    /// <summary>
    /// Flushes a folder's entries (a rename into it, a file created or removed) to disk, so they survive a power loss.
    /// On Linux and macOS that is fsync on the folder. Windows has no such call (a folder cannot be opened to flush it),
    /// so there it does nothing and the rename is as durable as the file system makes File.Move.
    /// </summary>
    internal static class DirectorySync
    {
        private const int ReadOnly = 0;

        public static void Flush(string folder)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                return;
            }

            int descriptor = open(folder, ReadOnly);
            if (descriptor < 0)
            {
                throw Failure("open", folder);
            }

            try
            {
                if (fsync(descriptor) != 0)
                {
                    throw Failure("fsync", folder);
                }
            }
            finally
            {
                _ = close(descriptor); // Read-only: nothing is lost if closing fails.
            }
        }

        private static IOException Failure(string call, string folder)
        {
            int errno = Marshal.GetLastWin32Error();
            return new IOException($"Cannot flush the folder '{folder}' to disk ({call} failed, errno {errno}).", errno);
        }

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        private static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        private static extern int fsync(int descriptor);

        [DllImport("libc", SetLastError = true)]
        private static extern int close(int descriptor);
    }
}
