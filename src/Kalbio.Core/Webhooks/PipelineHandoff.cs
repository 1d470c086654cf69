using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Core.Webhooks
{
    /// <summary>What the pump of a cmdlet does with an item whose sender waits for it to be written.</summary>
    internal interface IPipelineHandoff
    {
        bool TryStartWriting();

        void Written();

        void Failed();
    }

    /// <summary>
    /// An item handed to the pipeline thread whose sender waits to learn its fate: <see cref="Delivered"/> when the
    /// pipeline returned from it (its WriteObject returned), false when it was never written or the pipeline failed
    /// on it. Each item ends exactly once, whichever side gets there first.
    /// </summary>
    internal sealed class PipelineHandoff<T> : IPipelineHandoff
    {
        private const int Queued = 0;
        private const int Writing = 1;
        private const int Ended = 2;

        private readonly TaskCompletionSource<bool> _outcome = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _state;

        public PipelineHandoff(T item) => Item = item;

        public T Item { get; }

        /// <summary>True once the pipeline returned from the item; false if it never will.</summary>
        public Task<bool> Delivered => _outcome.Task;

        /// <summary>The pipeline thread takes the item; false when its sender gave up on it first.</summary>
        public bool TryStartWriting() => Interlocked.CompareExchange(ref _state, Writing, Queued) == Queued;

        /// <summary>The pipeline returned from the item.</summary>
        public void Written()
        {
            Volatile.Write(ref _state, Ended);
            _outcome.TrySetResult(true);
        }

        /// <summary>The pipeline failed on the item, or ended before taking it.</summary>
        public void Failed()
        {
            Volatile.Write(ref _state, Ended);
            _outcome.TrySetResult(false);
        }

        /// <summary>The sender gives up on an item not yet taken; an item being written is left to finish.</summary>
        public bool TryWithdraw()
        {
            if (Interlocked.CompareExchange(ref _state, Ended, Queued) != Queued)
            {
                return false;
            }

            _outcome.TrySetResult(false);
            return true;
        }
    }
}
