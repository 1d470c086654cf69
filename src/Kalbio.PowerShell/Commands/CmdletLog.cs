using System.Threading;
using Kalbio.Core;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Puts the core's messages, from whatever thread they come on, into the cmdlet's <see cref="PipelinePump"/>, in
    /// order with its items and progress; the pipeline thread, the only thread allowed to call Write*, writes them.
    /// </summary>
    internal sealed class CmdletLog : IKalLog
    {
        private readonly PipelinePump _pump;
        private readonly CancellationToken _stopping;

        public CmdletLog(PipelinePump pump, bool verbose, bool debug, CancellationToken stopping)
        {
            _pump = pump;
            IsVerboseEnabled = verbose;
            IsDebugEnabled = debug;
            _stopping = stopping;
        }

        public bool IsVerboseEnabled { get; }

        public bool IsDebugEnabled { get; }

        public void Verbose(string message)
        {
            if (IsVerboseEnabled)
            {
                _pump.Message(PipelineActionKind.Verbose, message, _stopping);
            }
        }

        public void Debug(string message)
        {
            if (IsDebugEnabled)
            {
                _pump.Message(PipelineActionKind.Debug, message, _stopping);
            }
        }

        public void Warning(string message) => _pump.Message(PipelineActionKind.Warning, message, _stopping);
    }
}
