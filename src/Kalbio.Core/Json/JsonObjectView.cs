using System.Collections;
using System.Collections.Generic;

namespace Kalbio.Core.Json
{
    /// <summary>A host object (e.g. a PowerShell custom object) seen as ordered name/value pairs, to be written as a JSON object.</summary>
    internal sealed class JsonObjectView : IEnumerable<KeyValuePair<string, object?>>
    {
        private readonly IEnumerable<KeyValuePair<string, object?>> _properties;

        public JsonObjectView(IEnumerable<KeyValuePair<string, object?>> properties) => _properties = properties;

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => _properties.GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
