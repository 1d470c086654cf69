namespace Kalbio.Core
{
    /// <summary>
    /// Where the client core reports what it does. Calls may come from any thread; the cmdlet layer queues them in
    /// order with the items the work emits (a call may wait while that bounded queue is full) and writes them on the
    /// pipeline thread.
    /// </summary>
    internal interface IKalLog
    {
        bool IsVerboseEnabled { get; }

        bool IsDebugEnabled { get; }

        void Verbose(string message);

        void Debug(string message);

        void Warning(string message);
    }

    internal sealed class NullKalLog : IKalLog
    {
        public static readonly NullKalLog Instance = new NullKalLog();

        public bool IsVerboseEnabled => false;

        public bool IsDebugEnabled => false;

        public void Verbose(string message) { }

        public void Debug(string message) { }

        public void Warning(string message) { }
    }
}
