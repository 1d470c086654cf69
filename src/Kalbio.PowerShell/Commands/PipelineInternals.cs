using System;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.ExceptionServices;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// What a command needs to know about its pipeline that PowerShell has no public API for, read by reflection from
    /// PowerShell's internals in this one place. Every read falls back to the public answer when the internals are not
    /// as expected (another PowerShell version), so nothing fails because of it.
    /// </summary>
    internal static class PipelineInternals
    {
        private const BindingFlags Internal = BindingFlags.Instance | BindingFlags.NonPublic;
        private const BindingFlags AnyInstance = Internal | BindingFlags.Public;

        // Select-Object -First throws this internal PowerShell type once it has its items. The pipeline records it as its
        // first terminating error and throws a plain PipelineStoppedException out of our WriteObject.
        private const string StopUpstreamType = "System.Management.Automation.StopUpstreamCommandsException";

        public static bool IsStopUpstream(Exception exception) => exception.GetType().FullName == StopUpstreamType;

        /// <summary>True when the pipeline ended because a later command (Select-Object -First) has all it wants.</summary>
        public static bool StoppedByStopUpstream(Cmdlet command)
        {
            try
            {
                object? processor = PipelineProcessor(command);
                FieldInfo? field = processor?.GetType().GetField("_firstTerminatingError", Internal) ?? processor?.GetType().GetField("firstTerminatingError", Internal);
                object? first = field?.GetValue(processor);
                Exception? source = first is ExceptionDispatchInfo captured ? captured.SourceException : first as Exception;
                return source != null && IsStopUpstream(source);
            }
            catch (Exception ex) when (IsReflectionFailure(ex))
            {
                return false;
            }
        }

        /// <summary>
        /// True once a stop (Ctrl+C, PowerShell.Stop) of the pipeline running <paramref name="command"/> was asked for,
        /// even before it reached this command.
        /// </summary>
        /// <remarks>
        /// PowerShell marks the running pipeline Stopping before the stop reaches any command. A downstream command cut
        /// short by it (Start-Sleep in a ForEach-Object script block) has been seen to return normally while
        /// <see cref="Cmdlet.Stopping"/> of the command upstream was still false (3-12 ms after the stop began; the
        /// pipeline's state already Stopping), so a normal return is not proof that the item was processed. The state
        /// of the running pipeline (public on <c>Pipeline</c>, reached through two internal properties) tells from the
        /// start.
        /// </remarks>
        public static bool StopRequested(Cmdlet command)
        {
            if (command.Stopping)
            {
                return true;
            }

            try
            {
                object? processor = PipelineProcessor(command);
                object? pipeline = processor?.GetType().GetProperty("LocalPipeline", Internal)?.GetValue(processor);
                object? stateInfo = pipeline?.GetType().GetProperty("PipelineStateInfo", AnyInstance)?.GetValue(pipeline);
                string? state = stateInfo?.GetType().GetProperty("State", AnyInstance)?.GetValue(stateInfo)?.ToString();
                return state == "Stopping" || state == "Stopped";
            }
            catch (Exception ex) when (IsReflectionFailure(ex))
            {
                return false;
            }
        }

        private static object? PipelineProcessor(Cmdlet command)
        {
            ICommandRuntime? runtime = command.CommandRuntime;
            return runtime?.GetType().GetProperty("PipelineProcessor", Internal)?.GetValue(runtime);
        }

        private static bool IsReflectionFailure(Exception exception) =>
            exception is TargetInvocationException || exception is MemberAccessException || exception is AmbiguousMatchException;
    }
}
