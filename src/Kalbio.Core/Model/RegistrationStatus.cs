using System;
using System.Linq;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Model
{
    /// <summary>The lifecycle states of a registration file, exactly as the API spells them.</summary>
    internal static class RegistrationStatus
    {
        public const string Pending = "pending";
        public const string Validated = "validated";
        public const string ValidationFailed = "validation_failed";
        public const string Submitted = "submitted";
        public const string Completed = "completed";
        public const string Failed = "failed";

        public static readonly string[] All = { Pending, Validated, ValidationFailed, Submitted, Completed, Failed };

        /// <summary>Returns the state as the API spells it (any letter case is accepted), or throws naming the valid states.</summary>
        public static string Normalize(string? status)
        {
            string? known = All.FirstOrDefault(s => string.Equals(s, status?.Trim(), StringComparison.OrdinalIgnoreCase));
            return known ?? throw new KalInputException(
                "InvalidRegistrationStatus",
                $"'{status}' is not a registration status. Use one of: {string.Join(", ", All)}.",
                "Status",
                status);
        }
    }
}
