using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.PowerShell.Commands;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The cmdlets' pump, through a real runspace and a probe cmdlet built on <see cref="KalCmdlet"/>: core work on the
    /// thread pool logs and emits, and what reaches the pipeline is checked.
    /// </summary>
    public sealed class PipelinePumpTests : IDisposable
    {
        private readonly Runspace _runspace;

        public PipelinePumpTests()
        {
            InitialSessionState state = InitialSessionState.CreateDefault2();
            state.Commands.Add(new SessionStateCmdletEntry("Invoke-PumpProbe", typeof(InvokePumpProbeCommand), null));
            _runspace = RunspaceFactory.CreateRunspace(state);
            _runspace.Open();
        }

        public void Dispose() => _runspace.Dispose();

        [Fact]
        public void Messages_and_items_from_core_work_reach_the_pipeline_in_the_order_they_were_posted()
        {
            const int Rounds = 2000;
            PumpWork work = async (cancellation, log, post, pump) =>
            {
                for (int i = 0; i < Rounds; i++)
                {
                    log.Verbose("before " + i);
                    await post(i);
                    log.Warning("after " + i);
                    log.Debug("debug " + i);
                }
            };

            List<string> merged = Invoke("$DebugPreference = 'Continue'; Invoke-PumpProbe -Work $work -Verbose *>&1", work).Select(Describe).ToList();

            List<string> expected = Enumerable.Range(0, Rounds)
                .SelectMany(i => new[] { "VERBOSE: before " + i, "ITEM: " + i, "WARNING: after " + i, "DEBUG: debug " + i })
                .ToList();
            Assert.Equal(expected, merged);
        }

        [Fact]
        public void A_producer_faster_than_the_pipeline_waits_once_the_queue_holds_its_bound()
        {
            const int Items = PipelinePump.Capacity * 4;
            int posted = 0;
            PipelinePump? seen = null;
            PumpWork work = async (cancellation, log, post, pump) =>
            {
                seen = pump;
                for (int i = 0; i < Items; i++)
                {
                    await post(i);
                    Interlocked.Increment(ref posted);
                }
            };

            int countWhenFull = -1, postedWhenFull = -1;
            Action whileFirstItemIsWritten = () =>
            {
                // The pipeline thread is held on the first item until the producer has filled the queue.
                Assert.True(SpinWait.SpinUntil(() => seen!.Count == PipelinePump.Capacity, TimeSpan.FromSeconds(60)), "The queue never filled.");
                postedWhenFull = Volatile.Read(ref posted);
                countWhenFull = seen!.Count;
            };

            List<PSObject> output = Invoke(
                "Invoke-PumpProbe -Work $work *>&1 | ForEach-Object -Begin { $first = $true } -Process { if ($first) { $first = $false; $gate.Invoke() }; $_ }",
                work,
                new Dictionary<string, object?> { ["gate"] = whileFirstItemIsWritten });

            Assert.Equal(PipelinePump.Capacity, countWhenFull);
            Assert.InRange(postedWhenFull, PipelinePump.Capacity - 1, PipelinePump.Capacity);
            Assert.Equal(Items, posted);
            Assert.Equal(PipelinePump.Capacity, seen!.HighWater);
            Assert.Equal(0, seen.Count);
            Assert.Equal(Enumerable.Range(0, Items).Select(i => "ITEM: " + i), output.Select(Describe));
        }

        [Fact]
        public void A_message_from_the_pipeline_thread_is_written_at_once_while_a_worker_waits_on_a_full_queue()
        {
            const int Lines = PipelinePump.Capacity + 10;
            PumpWork work = (cancellation, log, post, pump) => Task.CompletedTask;

            List<string> merged = Invoke("Invoke-PumpProbe -Work $work -FillFirst " + Lines + " -Verbose *>&1", work).Select(Describe).ToList();

            Assert.Equal(
                new[] { "WARNING: from the pipeline thread" }.Concat(Enumerable.Range(0, Lines).Select(i => "VERBOSE: queued " + i)),
                merged);
        }

        [Fact]
        public void Stop_releases_a_producer_waiting_on_a_full_queue_and_ends_the_pipeline()
        {
            PipelinePump? seen = null;
            var workEnded = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
            var messagesEnded = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            PumpWork work = async (cancellation, log, post, pump) =>
            {
                seen = pump;

                // A second producer that only logs, blocked on the same full queue.
                Task logging = Task.Run(() =>
                {
                    while (!cancellation.IsCancellationRequested)
                    {
                        log.Verbose("busy");
                    }

                    messagesEnded.SetResult(true);
                });
                try
                {
                    for (int i = 0; ; i++)
                    {
                        await post(i);
                    }
                }
                catch (Exception ex)
                {
                    workEnded.SetResult(ex);
                    await logging;
                    throw;
                }
            };

            using var full = new ManualResetEventSlim();
            Action whileFirstItemIsWritten = () =>
            {
                Assert.True(SpinWait.SpinUntil(() => seen!.Count == PipelinePump.Capacity, TimeSpan.FromSeconds(60)), "The queue never filled.");
                full.Set();
            };

            using System.Management.Automation.PowerShell shell = System.Management.Automation.PowerShell.Create();
            shell.Runspace = _runspace;
            _runspace.SessionStateProxy.SetVariable("work", work);
            _runspace.SessionStateProxy.SetVariable("gate", whileFirstItemIsWritten);
            shell.AddScript("Invoke-PumpProbe -Work $work -Verbose | ForEach-Object { $gate.Invoke(); while ($true) { Start-Sleep -Milliseconds 20 } }");
            IAsyncResult running = shell.BeginInvoke();
            Assert.True(full.Wait(TimeSpan.FromSeconds(90)), "The queue never filled.");
            Assert.False(workEnded.Task.IsCompleted);

            shell.Stop();

            Assert.True(running.IsCompleted);
            Assert.Equal(PSInvocationState.Stopped, shell.InvocationStateInfo.State);
            Assert.True(workEnded.Task.Wait(TimeSpan.FromSeconds(30)), "The producer was never released.");
            Assert.IsAssignableFrom<OperationCanceledException>(workEnded.Task.Result);
            Assert.True(messagesEnded.Task.Wait(TimeSpan.FromSeconds(30)), "The logging producer was never released.");
            Assert.InRange(seen!.HighWater, 1, PipelinePump.Capacity);
        }

        [Fact]
        public void Progress_is_coalesced_to_one_update_a_second_and_a_held_update_is_written_at_its_time_without_another_action()
        {
            using System.Management.Automation.PowerShell shell = System.Management.Automation.PowerShell.Create();
            shell.Runspace = _runspace;
            PumpWork work = async (cancellation, log, post, pump) =>
            {
                pump.Progress(new ProgressRecord(1, "Probe", "first"));
                Assert.True(SpinWait.SpinUntil(() => shell.Streams.Progress.Count == 1, TimeSpan.FromSeconds(30)), "The first update was not written at once.");
                foreach (string update in new[] { "second", "third", "last" })
                {
                    pump.Progress(new ProgressRecord(1, "Probe", update));
                }

                // Nothing else is posted: only the wake-up set for the held update can write it while this work still runs.
                Assert.True(SpinWait.SpinUntil(() => shell.Streams.Progress.Count == 2, TimeSpan.FromSeconds(30)), "The held update was never written.");
                await Task.Yield();
            };
            _runspace.SessionStateProxy.SetVariable("work", work);
            shell.AddScript("Invoke-PumpProbe -Work $work");

            shell.Invoke();

            Assert.Empty(shell.Streams.Error);
            Assert.Equal(new[] { "first", "last" }, shell.Streams.Progress.Select(record => record.StatusDescription));
        }

        private List<PSObject> Invoke(string script, PumpWork work, Dictionary<string, object?>? variables = null)
        {
            using System.Management.Automation.PowerShell shell = System.Management.Automation.PowerShell.Create();
            shell.Runspace = _runspace;
            _runspace.SessionStateProxy.SetVariable("work", work);
            foreach (KeyValuePair<string, object?> variable in variables ?? new Dictionary<string, object?>())
            {
                _runspace.SessionStateProxy.SetVariable(variable.Key, variable.Value);
            }

            shell.AddScript(script);
            List<PSObject> output = shell.Invoke().ToList();
            Assert.Empty(shell.Streams.Error);
            return output;
        }

        private static string Describe(PSObject item) => item.BaseObject switch
        {
            VerboseRecord verbose => "VERBOSE: " + verbose.Message,
            WarningRecord warning => "WARNING: " + warning.Message,
            DebugRecord debug => "DEBUG: " + debug.Message,
            _ => "ITEM: " + item.BaseObject,
        };
    }

    /// <summary>Core work for the probe: logs to <c>log</c>, posts items with <c>post</c>.</summary>
    internal delegate Task PumpWork(CancellationToken cancellation, IKalLog log, Func<object, Task> post, PipelinePump pump);

    /// <summary>Runs the given <see cref="PumpWork"/> as a Kalbio cmdlet runs core work, writing what it posts.</summary>
    [Cmdlet("Invoke", "PumpProbe")]
    public sealed class InvokePumpProbeCommand : KalCmdlet
    {
        [Parameter(Mandatory = true)]
        public object? Work { get; set; }

        /// <summary>Before the work runs, a worker logs this many lines (more than fit); once the queue is full, this cmdlet logs on its own thread.</summary>
        [Parameter]
        public int FillFirst { get; set; }

        protected override void EndProcessing()
        {
            var work = (PumpWork)(Work is PSObject wrapped ? wrapped.BaseObject : Work)!;
            if (FillFirst > 0)
            {
                IKalLog log = Log;
                Task filling = Task.Run(() =>
                {
                    for (int i = 0; i < FillFirst; i++)
                    {
                        log.Verbose("queued " + i);
                    }
                });
                if (!SpinWait.SpinUntil(() => Pump.Count == PipelinePump.Capacity, TimeSpan.FromSeconds(60)))
                {
                    throw new InvalidOperationException("The queue never filled.");
                }

                log.Warning("from the pipeline thread");
                PumpWork then = work;
                work = async (cancellation, l, post, pump) =>
                {
                    await filling.ConfigureAwait(false);
                    await then(cancellation, l, post, pump).ConfigureAwait(false);
                };
            }

            RunEmitting<object, bool>(
                async (cancellation, post) =>
                {
                    await work(cancellation, Log, post, Pump).ConfigureAwait(false);
                    return true;
                },
                WriteObject);
        }
    }
}
