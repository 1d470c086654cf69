using System;
using System.IO;
using System.Reflection;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// Sylvan.Data.Csv is shipped in the module's <see cref="FolderName"/> folder rather than beside Kalbio.Core.dll, so
    /// the default load context never finds it by itself: when Kalbio.Core asks for it, the resolve handler loads it
    /// with <see cref="Assembly.LoadFile(string)"/>, which on .NET gives it a load context of its own. Another module's
    /// copy of another version in the default context then neither blocks ours (a lower version loaded first would
    /// otherwise fail the bind) nor is blocked by it.
    /// </summary>
    internal static class PrivateAssemblies
    {
        public const string FolderName = "Dependencies";

        private const string CsvLibrary = "Sylvan.Data.Csv";

        private static readonly object Sync = new object();
        private static bool _registered;
        private static Assembly? _csvLibrary;

        /// <summary>Registers the resolve handler; to be called before any method that uses the CSV library is compiled.</summary>
        public static void Register()
        {
            lock (Sync)
            {
                if (!_registered)
                {
                    AppDomain.CurrentDomain.AssemblyResolve += Resolve;
                    _registered = true;
                }
            }
        }

        private static Assembly? Resolve(object? sender, ResolveEventArgs args)
        {
            Assembly own = typeof(PrivateAssemblies).Assembly;
            if (args.RequestingAssembly != null && args.RequestingAssembly != own)
            {
                return null;
            }

            if (!string.Equals(new AssemblyName(args.Name).Name, CsvLibrary, StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            string path = Path.Combine(Path.GetDirectoryName(own.Location) ?? string.Empty, FolderName, CsvLibrary + ".dll");
            if (!File.Exists(path))
            {
                return null;
            }

            lock (Sync)
            {
                return _csvLibrary ??= Assembly.LoadFile(path);
            }
        }
    }
}
