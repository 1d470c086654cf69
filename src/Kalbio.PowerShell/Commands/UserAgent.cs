using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Kalbio.PowerShell.Commands
{
    internal static class UserAgent
    {
        public static readonly string Value =
            $"Kalbio.PowerShell/{typeof(UserAgent).Assembly.GetName().Version?.ToString(3)} PowerShell/{PowerShellVersion()} ({RuntimeInformation.OSDescription.Trim()})";

        // The assembly version stays at x.y.0 across patch releases; the informational version ("7.6.9 SHA: ...") is the real one.
        private static string PowerShellVersion()
        {
            Assembly automation = typeof(PSObject).Assembly;
            string? informational = automation.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
            string? version = informational?.Split(' ', '+')[0];
            return string.IsNullOrEmpty(version) ? automation.GetName().Version?.ToString(3) ?? "unknown" : version!;
        }
    }
}
