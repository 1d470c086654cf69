using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// The duplicate-id check of a results file, on a thread of its own. The reader posts each record's id and goes on
    /// writing the body while this thread adds the ids to a <see cref="RecordIdSet"/>, whose probes wait on memory: at
    /// a million ids they are about a third of reading a file, and the other core is idle then. The duplicates are
    /// known once <see cref="Finish"/> returns; the builder does not complete a body before that.
    /// </summary>
    internal sealed class DuplicateIdCheck : IDisposable
    {
        private const int BatchSize = 4096;

        // Bounded, so that a reader far ahead of the check holds at most this many batches of ids.
        private readonly BlockingCollection<(string Id, int Position, int Line)[]> _batches = new BlockingCollection<(string Id, int Position, int Line)[]>(16);
        private readonly Func<string, int, int> _add;
        private readonly List<Duplicate> _duplicates = new List<Duplicate>();
        private readonly Task _worker;
        private (string Id, int Position, int Line)[] _batch = new (string, int, int)[BatchSize];
        private int _filled;
        private Exception? _failure;
        private bool _finished;

        /// <param name="ids">The set the ids go to; the caller reads it only after <see cref="Finish"/>.</param>
        public DuplicateIdCheck(RecordIdSet ids)
            : this((id, position) => ids.TryAdd(id, position, out int first) ? -1 : first)
        {
        }

        /// <param name="add">Adds an id at a position: -1 when it is new, else the position it had first.</param>
        internal DuplicateIdCheck(Func<string, int, int> add)
        {
            _add = add;
            _worker = Task.Factory.StartNew(Check, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        /// <summary>Queues <paramref name="id"/> of the record at <paramref name="position"/>; <paramref name="line"/> comes back with a duplicate.</summary>
        public void Post(string id, int position, int line)
        {
            _batch[_filled++] = (id, position, line);
            if (_filled == BatchSize)
            {
                _batches.Add(_batch);
                _batch = new (string, int, int)[BatchSize];
                _filled = 0;
            }
        }

        /// <summary>Waits until every posted id is checked; the duplicates, in the order they were posted.</summary>
        public IReadOnlyList<Duplicate> Finish()
        {
            if (!_finished)
            {
                _finished = true;
                // The last, partly filled batch (empty when the ids filled whole batches, which costs nothing).
                Array.Resize(ref _batch, _filled);
                _batches.Add(_batch);
                _batches.CompleteAdding();
                _worker.Wait();
                if (_failure != null)
                {
                    throw new InvalidOperationException("The duplicate record id check failed.", _failure);
                }
            }

            return _duplicates;
        }

        public void Dispose()
        {
            if (!_finished)
            {
                _finished = true;
                _batches.CompleteAdding();
                _worker.Wait();
            }

            // Stryker disable once Statement : releases the collection's wait handles, which nothing observes once its thread has ended
            _batches.Dispose();
        }

        /// <summary>True once the checking thread has ended (after <see cref="Finish"/> or <see cref="Dispose"/>).</summary>
        internal bool IsStopped => _worker.IsCompleted;

        private void Check()
        {
            foreach ((string Id, int Position, int Line)[] batch in _batches.GetConsumingEnumerable())
            {
                // After a failure the rest is only taken off the queue, so that the reader never waits on a full one.
                if (_failure != null)
                {
                    continue;
                }

                try
                {
                    foreach ((string Id, int Position, int Line) posted in batch)
                    {
                        int first = _add(posted.Id, posted.Position);
                        if (first >= 0)
                        {
                            _duplicates.Add(new Duplicate(posted.Id, posted.Position, first, posted.Line));
                        }
                    }
                }
                catch (Exception ex)
                {
                    _failure = ex;
                }
            }
        }
    }

    /// <summary>A record whose id an earlier record already had.</summary>
    internal readonly struct Duplicate
    {
        public Duplicate(string id, int position, int firstPosition, int line)
        {
            Id = id;
            Position = position;
            FirstPosition = firstPosition;
            Line = line;
        }

        public string Id { get; }

        public int Position { get; }

        public int FirstPosition { get; }

        public int Line { get; }
    }
}
