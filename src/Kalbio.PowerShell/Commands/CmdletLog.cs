using System.Collections.Concurrent;
using System.Management.Automation;
using Kalbio.Core;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Collects the core's messages from whatever thread they come on; <see cref="Drain"/> writes them on the
    /// pipeline thread, the only thread allowed to call Write*.
    /// </summary>
    internal sealed class CmdletLog : IKalLog
    {
        private enum Stream { Verbose, Debug, Warning }

        private readonly ConcurrentQueue<(Stream Stream, string Text)> _messages = new ConcurrentQueue<(Stream, string)>();

        public CmdletLog(bool verbose, bool debug)
        {
            IsVerboseEnabled = verbose;
            IsDebugEnabled = debug;
        }

        public bool IsVerboseEnabled { get; }

        public bool IsDebugEnabled { get; }

        public void Verbose(string message)
        {
            if (IsVerboseEnabled)
            {
                _messages.Enqueue((Stream.Verbose, message));
            }
        }

        public void Debug(string message)
        {
            if (IsDebugEnabled)
            {
                _messages.Enqueue((Stream.Debug, message));
            }
        }

        public void Warning(string message) => _messages.Enqueue((Stream.Warning, message));

        public void Drain(Cmdlet cmdlet)
        {
            while (_messages.TryDequeue(out (Stream Stream, string Text) message))
            {
                switch (message.Stream)
                {
                    case Stream.Verbose:
                        cmdlet.WriteVerbose(message.Text);
                        break;
                    case Stream.Debug:
                        cmdlet.WriteDebug(message.Text);
                        break;
                    default:
                        cmdlet.WriteWarning(message.Text);
                        break;
                }
            }
        }
    }
}
