using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using Kalbio.PowerShell.Client;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// The implicit connection of each runspace. Keyed by runspace (weakly, so a closed runspace takes its
    /// connection with it): two runspaces in one process never see each other's connection.
    /// </summary>
    internal static class CurrentConnection
    {
        private static readonly ConditionalWeakTable<Runspace, StrongBox<KalConnection?>> ByRunspace =
            new ConditionalWeakTable<Runspace, StrongBox<KalConnection?>>();

        public static KalConnection? Get()
        {
            Runspace? runspace = Runspace.DefaultRunspace;
            return runspace != null && ByRunspace.TryGetValue(runspace, out StrongBox<KalConnection?>? box) ? box.Value : null;
        }

        public static void Set(KalConnection? connection)
        {
            Runspace? runspace = Runspace.DefaultRunspace;
            if (runspace != null)
            {
                ByRunspace.GetValue(runspace, _ => new StrongBox<KalConnection?>()).Value = connection;
            }
        }
    }
}
