using System;
using System.Management.Automation;
using System.Runtime.InteropServices;

namespace Kalbio.PowerShell.Commands
{
    internal static class UserAgent
    {
        public static readonly string Value =
            $"Kalbio.PowerShell/{typeof(UserAgent).Assembly.GetName().Version?.ToString(3)} PowerShell/{typeof(PSObject).Assembly.GetName().Version?.ToString(3)} ({RuntimeInformation.OSDescription.Trim()})";
    }
}
