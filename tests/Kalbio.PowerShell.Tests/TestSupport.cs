using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Kalbio.Sandbox;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Collects what the core reports, so tests can read it (and check it for secrets).</summary>
    internal sealed class RecordingLog : IKalLog
    {
        public ConcurrentQueue<string> Messages { get; } = new ConcurrentQueue<string>();

        public bool IsVerboseEnabled => true;

        public bool IsDebugEnabled => true;

        public void Verbose(string message) => Messages.Enqueue("VERBOSE: " + message);

        public void Debug(string message) => Messages.Enqueue("DEBUG: " + message);

        public void Warning(string message) => Messages.Enqueue("WARNING: " + message);

        public string All => string.Join(Environment.NewLine, Messages);
    }

    /// <summary>A clock the test moves, so token lifetimes pass without sleeping.</summary>
    internal sealed class TestClock
    {
        private long _ticks = DateTimeOffset.UtcNow.UtcTicks;

        public DateTimeOffset Now => new DateTimeOffset(System.Threading.Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public void Advance(TimeSpan by) => System.Threading.Interlocked.Add(ref _ticks, by.Ticks);
    }

    /// <summary>
    /// A caller's synchronization context that counts what is posted or sent to it (running it on the thread pool):
    /// code that resumes on the caller's context, which would deadlock a caller blocking on it, shows as a count.
    /// </summary>
    internal sealed class CountingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            ThreadPool.QueueUserWorkItem(_ =>
            {
                try
                {
                    d(state);
                }
                finally
                {
                    SetSynchronizationContext(null);
                }
            });
        }

        public override void Send(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            d(state);
        }

        /// <summary>Starts <paramref name="start"/> with this as the current context, as a caller on it would.</summary>
        public Task<T> Start<T>(Func<Task<T>> start)
        {
            SynchronizationContext? previous = Current;
            SetSynchronizationContext(this);
            try
            {
                return start();
            }
            finally
            {
                SetSynchronizationContext(previous);
            }
        }
    }

    internal static class TestConnections
    {
        public static KalConnection To(SandboxFixture sandbox, Action<KalConnectionOptions>? configure = null)
        {
            var options = new KalConnectionOptions
            {
                BaseUri = KalConnectionOptions.ParseBaseUri(sandbox.BaseUri.ToString()),
                ClientId = SandboxOptions.DefaultClientId,
                ClientSecret = SandboxOptions.DefaultClientSecret,
                RetryInterval = TimeSpan.FromMilliseconds(50),
            };
            configure?.Invoke(options);
            return new KalConnection(options);
        }

        public static IReadOnlyList<RequestLogEntry> ApiRequests(this SandboxFixture sandbox) =>
            sandbox.State.GetRequests().Where(r => r.Path != "/auth/oauth/token").ToList();
    }
}
