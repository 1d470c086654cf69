using System.Globalization;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>Byte counts as the cmdlets show them in progress, verbose lines and -WhatIf: "143 bytes", "4.0 MB".</summary>
    internal static class ByteSize
    {
        private static readonly string[] Units = { "KB", "MB", "GB", "TB" };

        /// <summary>Below 1 KB the exact count; above, one decimal in the largest unit of 1024 that fits (invariant culture).</summary>
        public static string Format(long bytes)
        {
            if (bytes < 1024)
            {
                return bytes.ToString(CultureInfo.InvariantCulture) + " bytes";
            }

            double value = bytes / 1024.0;
            int unit = 0;
            while (value >= 1024 && unit < Units.Length - 1)
            {
                value /= 1024;
                unit++;
            }

            return value.ToString("0.0", CultureInfo.InvariantCulture) + " " + Units[unit];
        }
    }
}
