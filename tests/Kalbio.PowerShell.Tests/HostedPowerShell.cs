using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Kalbio.PowerShell.Commands;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>A real PowerShell runspace with the module's assembly imported, for testing cmdlets in-process.</summary>
    internal sealed class HostedPowerShell : IDisposable
    {
        private readonly Runspace _runspace;

        public HostedPowerShell()
        {
            InitialSessionState state = InitialSessionState.CreateDefault2();
            state.ImportPSModule(new[] { typeof(KalCmdlet).Assembly.Location });
            _runspace = RunspaceFactory.CreateRunspace(state);
            _runspace.Open();
        }

        public Runspace Runspace => _runspace;

        /// <summary>Runs a script; returns its output and the errors it wrote (terminating errors become the last error).</summary>
        public (Collection<PSObject> Output, IReadOnlyList<ErrorRecord> Errors) Invoke(string script, IDictionary<string, object?>? variables = null)
        {
            using System.Management.Automation.PowerShell shell = System.Management.Automation.PowerShell.Create();
            shell.Runspace = _runspace;
            foreach (KeyValuePair<string, object?> variable in variables ?? new Dictionary<string, object?>())
            {
                _runspace.SessionStateProxy.SetVariable(variable.Key, variable.Value);
            }

            shell.AddScript(script);
            var errors = new List<ErrorRecord>();
            Collection<PSObject> output;
            try
            {
                output = shell.Invoke();
            }
            catch (RuntimeException ex)
            {
                output = new Collection<PSObject>();
                errors.Add(ex.ErrorRecord);
            }

            errors.InsertRange(0, shell.Streams.Error.ToList());
            return (output, errors);
        }

        public void Dispose() => _runspace.Dispose();
    }
}
