using System;
using System.Threading;

namespace Kalbio.Core.Http
{
    /// <summary>
    /// A timeout that restarts whenever progress is made: the wait for headers, then each read of the body.
    /// A 2 GB download is not killed by a wall-clock limit, but a stalled one is.
    /// </summary>
    internal sealed class RequestTimeout : IDisposable
    {
        private readonly CancellationTokenSource _source;
        private readonly TimeSpan _timeout;
        private readonly CancellationToken _cancellation;

        internal RequestTimeout(TimeSpan timeout, CancellationToken cancellation)
        {
            _timeout = timeout;
            _cancellation = cancellation;
            _source = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            Restart();
        }

        public CancellationToken Token => _source.Token;

        public TimeSpan Duration => _timeout;

        /// <summary>True when the timeout ran out; false when the caller cancelled.</summary>
        public bool HasExpired => _source.IsCancellationRequested && !_cancellation.IsCancellationRequested;

        /// <summary>Call after each successful read.</summary>
        public void Restart()
        {
            if (_timeout > TimeSpan.Zero && _timeout != System.Threading.Timeout.InfiniteTimeSpan)
            {
                _source.CancelAfter(_timeout);
            }
        }

        public void Dispose() => _source.Dispose();
    }
}
