using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// One ordered, bounded queue of what a cmdlet's core work asks the pipeline to do (write an item, a verbose, debug
    /// or warning line, a progress update), drained on the pipeline thread, the only thread allowed to call Write*, in
    /// the order it was asked for. The pipeline thread wakes on every action and on nothing else: no periodic poll.
    /// </summary>
    /// <remarks>
    /// At most <see cref="Capacity"/> actions are queued or being written; a producer beyond that waits (asynchronously
    /// for items, blocking its own worker thread for messages, whose interface is synchronous) until the pipeline thread
    /// has written one, or until the cmdlet is stopped or disposed. The pipeline thread never waits for space: its own
    /// messages are written directly. Progress is coalesced: at most one update is queued, it carries the latest record,
    /// and at most one a second reaches the host; an update that comes too soon is held, and only then does the pump
    /// wait with a deadline, once, to write it.
    /// </remarks>
    internal sealed class PipelinePump : IDisposable
    {
        /// <summary>
        /// Enough for bursts (a request logs a few lines; a delivery hands over its events) without a producer ever
        /// waiting in normal use, small enough that a producer faster than the pipeline holds at most this many
        /// references (tens of KB) instead of growing without limit.
        /// </summary>
        public const int Capacity = 1024;

        private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

        private readonly Cmdlet _cmdlet;
        private readonly Queue<PipelineAction> _actions = new Queue<PipelineAction>();
        private readonly SemaphoreSlim _space = new SemaphoreSlim(Capacity, Capacity);
        private readonly ManualResetEventSlim _wake = new ManualResetEventSlim(false);
        private readonly CancellationTokenSource _closed = new CancellationTokenSource();
        private readonly Stopwatch _sinceProgress = new Stopwatch();
        private int _pipelineThread;
        private int _held;
        private int _highWater;
        private int _run;
        private bool _runOpen;
        private ProgressRecord? _progress;
        private bool _progressQueued;

        public PipelinePump(Cmdlet cmdlet)
        {
            _cmdlet = cmdlet;

            // PowerShell creates a command on the thread that runs its pipeline.
            _pipelineThread = Environment.CurrentManagedThreadId;
        }

        /// <summary>Actions queued or being written now; never more than <see cref="Capacity"/>.</summary>
        internal int Count => Volatile.Read(ref _held);

        /// <summary>The most actions that were ever queued or being written at once.</summary>
        internal int HighWater => Volatile.Read(ref _highWater);

        private bool OnPipelineThread => Environment.CurrentManagedThreadId == Volatile.Read(ref _pipelineThread);

        /// <summary>
        /// A message from any thread. On the pipeline thread it is written at once; from another thread it is queued,
        /// waiting while the queue is full, and dropped if the cmdlet is stopped (or done) first.
        /// </summary>
        public void Message(PipelineActionKind kind, string text, CancellationToken stopping)
        {
            var action = new PipelineAction(kind, text);
            if (OnPipelineThread)
            {
                Write(action);
                return;
            }

            if (!_space.Wait(0, CancellationToken.None))
            {
                try
                {
                    using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, _closed.Token);
                    _space.Wait(either.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    // The cmdlet was disposed while this worker still logged.
                    return;
                }
            }

            lock (_actions)
            {
                Enqueue(action);
            }

            _wake.Set();
        }

        /// <summary>The latest progress from any thread; see the remarks for how often it reaches the host.</summary>
        public void Progress(ProgressRecord record)
        {
            lock (_actions)
            {
                _progress = record;
                if (_progressQueued || !_space.Wait(0))
                {
                    // Queued already, or the queue is full and the pipeline thread will find it when it next waits.
                    return;
                }

                _progressQueued = true;
                Enqueue(new PipelineAction(PipelineActionKind.Progress, null));
            }

            _wake.Set();
        }

        /// <summary>Writes the final state of an activity and drops any update still pending (pipeline thread).</summary>
        public void CompleteProgress(ProgressRecord record)
        {
            lock (_actions)
            {
                _progress = null;
            }

            record.RecordType = ProgressRecordType.Completed;
            _cmdlet.WriteProgress(record);
        }

        /// <summary>Opens a run whose items go to one emit; items posted for an earlier run are refused.</summary>
        public int BeginRun()
        {
            Volatile.Write(ref _pipelineThread, Environment.CurrentManagedThreadId);
            lock (_actions)
            {
                _runOpen = true;
                return ++_run;
            }
        }

        /// <summary>
        /// Queues an item of <paramref name="run"/>, waiting asynchronously while the queue is full. False when the run
        /// has ended, and cancelled when <paramref name="stopping"/> fired first: then the item will never be written.
        /// </summary>
        public async Task<bool> PostItemAsync(int run, object? item, CancellationToken stopping)
        {
            stopping.ThrowIfCancellationRequested();
            if (!_space.Wait(0, CancellationToken.None))
            {
                await WaitForSpaceAsync(stopping).ConfigureAwait(false);
            }

            lock (_actions)
            {
                if (!_runOpen || run != _run)
                {
                    _space.Release();
                    return false;
                }

                Enqueue(new PipelineAction(item));
            }

            _wake.Set();
            return true;
        }

        /// <summary>
        /// Writes every queued action in order (pipeline thread), handing items to <paramref name="emit"/>; then, until
        /// <paramref name="done"/> has completed and everything it queued is written, sleeps until the next action.
        /// </summary>
        public void Pump(Task done, Action<object?> emit)
        {
            done.ContinueWith(_ => _wake.Set(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            while (true)
            {
                // Reset before looking, so that a completion or an action that comes after the look wakes the wait below.
                _wake.Reset();
                bool finished = done.IsCompleted;
                while (TryTake(out PipelineAction action))
                {
                    try
                    {
                        if (action.Kind == PipelineActionKind.Item)
                        {
                            emit(action.Item);
                        }
                        else
                        {
                            Write(action);
                        }
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _held);
                        _space.Release();
                    }
                }

                TimeSpan? progressDue = WriteHeldProgress();
                if (finished)
                {
                    return;
                }

                if (progressDue is TimeSpan due)
                {
                    _wake.Wait(due);
                }
                else
                {
                    _wake.Wait();
                }
            }
        }

        /// <summary>Closes the run; returns its items that were never written, for their senders to learn.</summary>
        public List<object?> EndRun()
        {
            var left = new List<object?>();
            lock (_actions)
            {
                _runOpen = false;
                int count = _actions.Count;
                for (int i = 0; i < count; i++)
                {
                    PipelineAction action = _actions.Dequeue();
                    if (action.Kind == PipelineActionKind.Item)
                    {
                        left.Add(action.Item);
                        Interlocked.Decrement(ref _held);
                        _space.Release();
                    }
                    else
                    {
                        _actions.Enqueue(action);
                    }
                }
            }

            return left;
        }

        /// <summary>Releases every producer still waiting for space; later messages are dropped.</summary>
        public void Dispose()
        {
            _closed.Cancel();
            _wake.Set();
        }

        private async Task WaitForSpaceAsync(CancellationToken stopping)
        {
            using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, _closed.Token);
            await _space.WaitAsync(either.Token).ConfigureAwait(false);
        }

        // Under the lock, with a slot of _space taken.
        private void Enqueue(PipelineAction action)
        {
            _actions.Enqueue(action);
            int held = Interlocked.Increment(ref _held);
            if (held > _highWater)
            {
                Volatile.Write(ref _highWater, held);
            }
        }

        private bool TryTake(out PipelineAction action)
        {
            lock (_actions)
            {
                if (_actions.Count == 0)
                {
                    action = default;
                    return false;
                }

                action = _actions.Dequeue();
                if (action.Kind == PipelineActionKind.Progress)
                {
                    _progressQueued = false;
                }

                return true;
            }
        }

        private void Write(PipelineAction action)
        {
            switch (action.Kind)
            {
                case PipelineActionKind.Verbose:
                    _cmdlet.WriteVerbose(action.Text);
                    break;
                case PipelineActionKind.Debug:
                    _cmdlet.WriteDebug(action.Text);
                    break;
                case PipelineActionKind.Warning:
                    _cmdlet.WriteWarning(action.Text);
                    break;
                case PipelineActionKind.Progress:
                    WriteHeldProgress();
                    break;
            }
        }

        /// <summary>Writes the pending progress if a second has passed since the last; else how long until it may be.</summary>
        private TimeSpan? WriteHeldProgress()
        {
            ProgressRecord? record;
            lock (_actions)
            {
                if (_progress is null)
                {
                    return null;
                }

                if (_sinceProgress.IsRunning && _sinceProgress.Elapsed < ProgressInterval)
                {
                    return ProgressInterval - _sinceProgress.Elapsed;
                }

                record = _progress;
                _progress = null;
            }

            _cmdlet.WriteProgress(record);
            _sinceProgress.Restart();
            return null;
        }
    }

    internal enum PipelineActionKind
    {
        Item,
        Verbose,
        Debug,
        Warning,
        Progress,
    }

    /// <summary>One thing for the pipeline thread to write; a progress action stands for the latest record.</summary>
    internal readonly struct PipelineAction
    {
        public PipelineAction(object? item)
        {
            Kind = PipelineActionKind.Item;
            Item = item;
            Text = null;
        }

        public PipelineAction(PipelineActionKind kind, string? text)
        {
            Kind = kind;
            Item = null;
            Text = text;
        }

        public PipelineActionKind Kind { get; }

        public object? Item { get; }

        public string? Text { get; }
    }
}
