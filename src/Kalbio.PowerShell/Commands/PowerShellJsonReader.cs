using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Text.Json;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Turns parsed JSON into the objects PowerShell users expect: objects become PSCustomObjects with their
    /// properties in order, arrays object[], integers Int64, other numbers Double (Decimal when a Double would
    /// lose digits), strings stay strings (dates are not guessed at).
    /// </summary>
    internal static class PowerShellJsonReader
    {
        private static readonly char[] FractionOrExponent = { '.', 'e', 'E' };

        // Up to 15 significant digits, decimal text -> double -> decimal text is exact.
        private const int DoubleSafeDigits = 15;

        public static object? Convert(JsonElement element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    return ToObject(element);
                case JsonValueKind.Array:
                    var items = new object?[element.GetArrayLength()];
                    int index = 0;
                    foreach (JsonElement item in element.EnumerateArray())
                    {
                        items[index++] = Convert(item);
                    }

                    return items;
                case JsonValueKind.String:
                    return element.GetString();
                case JsonValueKind.Number:
                    return ToNumber(element);
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                default:
                    return null;
            }
        }

        private static PSObject ToObject(JsonElement element)
        {
            var result = new PSObject();
            HashSet<string>? seen = null;
            foreach (JsonProperty property in element.EnumerateObject())
            {
                if (property.Name.Length == 0)
                {
                    throw new JsonShapeException("it has a property with an empty name, which a PowerShell object cannot hold");
                }

                seen ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                if (!seen.Add(property.Name))
                {
                    throw new JsonShapeException($"it has the property '{property.Name}' twice (PowerShell property names ignore case)");
                }

                result.Properties.Add(new PSNoteProperty(property.Name, Convert(property.Value)));
            }

            return result;
        }

        private static object ToNumber(JsonElement element)
        {
            string text = element.GetRawText();
            bool integer = text.IndexOfAny(FractionOrExponent) < 0;
            if (integer && element.TryGetInt64(out long whole))
            {
                return whole;
            }

            if ((integer || SignificantDigits(text) > DoubleSafeDigits)
                && decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal exact))
            {
                return exact;
            }

            // Beyond Double's range: keep the digits rather than guess.
            return element.TryGetDouble(out double number) && !double.IsInfinity(number) ? number : (object)text;
        }

        private static int SignificantDigits(string number)
        {
            int digits = 0;
            bool leading = true;
            foreach (char c in number)
            {
                if (c == 'e' || c == 'E')
                {
                    break;
                }

                if (c < '0' || c > '9' || (leading && c == '0'))
                {
                    continue;
                }

                leading = false;
                digits++;
            }

            return digits;
        }
    }

    /// <summary>Parsed JSON that has no faithful PowerShell-object form.</summary>
    internal sealed class JsonShapeException : Exception
    {
        public JsonShapeException(string reason)
            : base(reason)
        {
        }
    }
}
