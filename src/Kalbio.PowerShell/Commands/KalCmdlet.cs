using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Webhooks;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// The base of every Kalbio cmdlet: cancellation on Ctrl+C, the core's messages, progress (throttled) and items
    /// written on the pipeline thread in the order they came, and ErrorRecords built one way.
    /// </summary>
    public abstract class KalCmdlet : PSCmdlet, IDisposable
    {
        private static readonly TimeSpan AbandonWait = TimeSpan.FromSeconds(5);

        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private readonly PipelinePump _pump;
        private CmdletLog? _log;

        protected KalCmdlet() => _pump = new PipelinePump(this);

        /// <summary>Cancelled when the user presses Ctrl+C or the pipeline is stopped.</summary>
        protected CancellationToken Cancellation => _stopping.Token;

        internal IKalLog Log => _log ??= new CmdletLog(_pump, IsStreamEnabled("Verbose"), IsStreamEnabled("Debug"), Cancellation);

        /// <summary>The queue the core's messages, progress and items go through to the pipeline thread.</summary>
        internal PipelinePump Pump => _pump;

        protected override void StopProcessing() => _stopping.Cancel();

        /// <summary>
        /// Runs core work on the thread pool while the pipeline thread writes its messages and progress; returns its
        /// result or rethrows its exception. Cancellation by Ctrl+C ends the pipeline.
        /// </summary>
        internal T Run<T>(Func<CancellationToken, Task<T>> operation) =>
            RunEmitting<object, T>((cancellation, _) => operation(cancellation), _ => { });

        internal void Run(Func<CancellationToken, Task> operation) =>
            Run(async cancellation =>
            {
                await operation(cancellation).ConfigureAwait(false);
                return true;
            });

        /// <summary>
        /// Runs core work that may also produce items as it goes (from any thread): the pipeline thread writes the
        /// core's messages, progress and items in the order they were posted, handing each item to
        /// <paramref name="emit"/>. Posting an item waits while the pump's queue is full (await it; it is cancelled
        /// when the cmdlet stops, and the item is then never written). If emitting fails (the pipeline is stopped, or
        /// a later command throws), the core work is cancelled and awaited briefly before the exception goes on. An
        /// item that is an <see cref="IPipelineHandoff"/> learns its fate: written once <paramref name="emit"/>
        /// returned from it, failed if it threw or the item was never emitted.
        /// </summary>
        internal T RunEmitting<TItem, T>(Func<CancellationToken, Func<TItem, Task>, Task<T>> operation, Action<TItem> emit)
        {
            // Made here, on the pipeline thread: it reads the preference variables.
            _ = Log;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
            int run = _pump.BeginRun();
            CancellationToken stopToken = stop.Token;
            Task<T> task = Task.Run(() => operation(stopToken, item => Post(run, item, stopToken)));
            try
            {
                _pump.Pump(task, item => Emit((TItem)item!, emit));
                if (Cancellation.IsCancellationRequested && (task.IsCanceled || task.Exception?.GetBaseException() is OperationCanceledException))
                {
                    throw new PipelineStoppedException();
                }

                return task.GetAwaiter().GetResult();
            }
            finally
            {
                foreach (object? left in _pump.EndRun())
                {
                    (left as IPipelineHandoff)?.Failed();
                }

                // Also releases posts still waiting for room, so that their items learn they were never written.
                stop.Cancel();
                if (!task.IsCompleted)
                {
                    try
                    {
                        task.Wait(AbandonWait);
                    }
                    catch (AggregateException)
                    {
                        // Cancelled on the way out; the exception that ended the pipeline is what matters.
                    }
                }
            }
        }

        private async Task Post<TItem>(int run, TItem item, CancellationToken stopping)
        {
            bool queued = false;
            try
            {
                queued = await _pump.PostItemAsync(run, item, stopping).ConfigureAwait(false);
            }
            finally
            {
                if (!queued)
                {
                    (item as IPipelineHandoff)?.Failed();
                }
            }
        }

        private void Emit<TItem>(TItem item, Action<TItem> emit)
        {
            var handoff = item as IPipelineHandoff;
            if (handoff != null && !handoff.TryStartWriting())
            {
                return;
            }

            try
            {
                emit(item);
            }
            catch (Exception ex) when (PipelineInternals.IsStopUpstream(ex) || PipelineInternals.StoppedByStopUpstream(this))
            {
                // Select-Object -First N: the item was taken, and the commands upstream are told to stop.
                handoff?.Written();
                throw;
            }
            catch
            {
                handoff?.Failed();
                throw;
            }

            if (handoff != null && PipelineInternals.StopRequested(this))
            {
                // Ctrl+C reached the commands downstream first and one returned normally: the item may not have been
                // processed, so its sender must not be told it was.
                handoff.Failed();
                throw new PipelineStoppedException();
            }

            handoff?.Written();
        }

        /// <summary>Queues a progress update from any thread; at most one a second reaches the host.</summary>
        internal void PostProgress(ProgressRecord record) => _pump.Progress(record);

        /// <summary>Writes the final state of an activity (call on the pipeline thread).</summary>
        internal void CompleteProgress(ProgressRecord record) => _pump.CompleteProgress(record);

        internal void WriteKalError(Exception exception, object? target, string? notFoundErrorId = null) =>
            WriteError(KalErrors.ToErrorRecord(exception, target, notFoundErrorId));

        internal void ThrowKalError(Exception exception, object? target, string? notFoundErrorId = null) =>
            ThrowTerminatingError(KalErrors.ToErrorRecord(exception, target, notFoundErrorId));

        internal static bool IsKalFailure(Exception exception) => exception is KalApiException || exception is KalInputException;

        public void Dispose()
        {
            Release();
            _pump.Dispose();
            _stopping.Dispose();
            GC.SuppressFinalize(this);
        }

        /// <summary>Frees what the command holds; runs on every exit path (end, error, Ctrl+C) when PowerShell disposes it.</summary>
        protected virtual void Release()
        {
        }

        /// <summary>False under -ProgressAction or $ProgressPreference SilentlyContinue/Ignore: then post no progress at all.</summary>
        internal bool IsProgressEnabled()
        {
            object? preference = MyInvocation.BoundParameters.TryGetValue("ProgressAction", out object? bound) ? bound : GetVariableValue("ProgressPreference");
            if (preference is ActionPreference action || (preference != null && Enum.TryParse(preference.ToString(), true, out action)))
            {
                return action != ActionPreference.SilentlyContinue && action != ActionPreference.Ignore;
            }

            return true;
        }

        /// <summary>
        /// A path given by the user, resolved the PowerShell way (relative to the current location, drives allowed,
        /// literally); anything that is not in the file system ends the command with Invalid{Parameter} or
        /// {Parameter}NotFileSystem.
        /// </summary>
        internal string ResolveFileSystemPath(string path, string parameterName)
        {
            string resolved;
            ProviderInfo provider;
            try
            {
                resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _);
            }
            catch (Exception ex) when (ex is SessionStateException || ex is NotSupportedException || ex is ArgumentException)
            {
                ThrowTerminatingError(new ErrorRecord(ex, "Invalid" + parameterName, ErrorCategory.InvalidArgument, path)
                {
                    ErrorDetails = new ErrorDetails($"The -{parameterName} path '{path}' cannot be resolved: {ex.Message}"),
                });
                throw;
            }

            if (provider.Name != "FileSystem")
            {
                ThrowTerminatingError(KalErrors.Create(
                    parameterName + "NotFileSystem",
                    ErrorCategory.InvalidArgument,
                    $"The -{parameterName} path '{path}' is on the {provider.Name} provider; give a path in the file system.",
                    path));
            }

            return resolved;
        }

        /// <summary>The FileInfo as Get-Item gives it (PSPath and friends), so it formats and pipes like any file.</summary>
        internal object AsFileItem(System.IO.FileInfo file)
        {
            try
            {
                foreach (PSObject item in SessionState.InvokeProvider.Item.Get(new[] { file.FullName }, force: true, literalPath: true))
                {
                    if (item.BaseObject is System.IO.FileInfo)
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

        private bool IsStreamEnabled(string stream)
        {
            if (MyInvocation.BoundParameters.TryGetValue(stream, out object? bound) && bound is SwitchParameter flag)
            {
                return flag.IsPresent;
            }

            object? preference = GetVariableValue(stream + "Preference");
            if (preference is ActionPreference action || (preference != null && Enum.TryParse(preference.ToString(), true, out action)))
            {
                return action != ActionPreference.SilentlyContinue && action != ActionPreference.Ignore;
            }

            return false;
        }
    }
}
