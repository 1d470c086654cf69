using System.Collections.Generic;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using Kalbio.Core;
using Kalbio.Core.Json;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Lets <see cref="JsonValueWriter"/> see PowerShell objects as plain values: a wrapped object becomes its base
    /// object, and a custom object (Import-Csv rows, ConvertFrom-Json output, [pscustomobject]) its properties.
    /// </summary>
    internal static class PowerShellJsonAdapter
    {
        [MethodImpl(HotPath.Optimize)]
        public static object? Adapt(object value)
        {
            if (value is PSObject wrapped)
            {
                return wrapped.BaseObject is PSCustomObject ? new JsonObjectView(Properties(wrapped)) : wrapped.BaseObject;
            }

            return value;
        }

        public static JsonValueWriter CreateWriter() => new JsonValueWriter(Adapt);

        private static IEnumerable<KeyValuePair<string, object?>> Properties(PSObject custom)
        {
            foreach (PSPropertyInfo property in custom.Properties)
            {
                if (property.IsGettable)
                {
                    yield return new KeyValuePair<string, object?>(property.Name, property.Value);
                }
            }
        }
    }
}
