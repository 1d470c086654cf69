using System.Collections;
using System.IO;
using System.Management.Automation;
using System.Text;
using System.Text.Json;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Kalbio.PowerShell.Model;

namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// Turns a webhook body (JSON text, or an object already parsed by ConvertFrom-Json) into typed registration
    /// events that pipe into Get-KalFile and the registration cmdlets.
    /// </summary>
    [Cmdlet(VerbsData.ConvertFrom, "KalWebhookEvent")]
    [OutputType(typeof(RegistrationEvent))]
    public sealed class ConvertFromKalWebhookEventCommand : KalCmdlet
    {
        private const int MaximumTargetLength = 200;

        // Text that is not yet a whole JSON value: Get-Content without -Raw sends a document line by line.
        private readonly StringBuilder _pendingText = new StringBuilder();

        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [AllowNull]
        [AllowEmptyString]
        public object? InputObject { get; set; }

        protected override void ProcessRecord() => Convert(InputObject);

        protected override void EndProcessing()
        {
            if (_pendingText.Length > 0)
            {
                string text = _pendingText.ToString();
                _pendingText.Clear();
                EmitParsed(text, text);
            }
        }

        private void Convert(object? input)
        {
            object? value = input is PSObject wrapped && !(wrapped.BaseObject is PSCustomObject) ? wrapped.BaseObject : input;
            switch (value)
            {
                case null:
                    return;
                case RegistrationEvent registrationEvent:
                    WriteObject(registrationEvent);
                    return;
                case string text:
                    ConvertText(text);
                    return;
                case PSObject _:
                case IDictionary _:
                    string json;
                    try
                    {
                        json = ToJson(value);
                    }
                    catch (KalInputException ex)
                    {
                        WriteError(new ErrorRecord(ex, RegistrationEventReader.InvalidEventErrorId, ErrorCategory.InvalidData, value));
                        return;
                    }

                    EmitParsed(json, value);
                    return;
                case IEnumerable sequence:
                    foreach (object? item in sequence)
                    {
                        Convert(item);
                    }

                    return;
                default:
                    WriteError(KalErrors.Create(
                        RegistrationEventReader.InvalidEventErrorId,
                        ErrorCategory.InvalidType,
                        $"A webhook event is JSON text or an object parsed from it (ConvertFrom-Json, or a hashtable); a {value.GetType().FullName} is neither.",
                        value));
                    return;
            }
        }

        private void ConvertText(string text)
        {
            if (_pendingText.Length == 0 && string.IsNullOrWhiteSpace(text))
            {
                return;
            }

            string candidate = _pendingText.Length == 0 ? text : _pendingText.ToString() + "\n" + text;
            switch (RegistrationEventReader.Classify(candidate))
            {
                case JsonCompleteness.Complete:
                    _pendingText.Clear();
                    EmitParsed(candidate, candidate);
                    return;
                case JsonCompleteness.Incomplete:
                    _pendingText.Clear().Append(candidate);
                    return;
                default:
                    if (_pendingText.Length == 0)
                    {
                        EmitParsed(text, text);
                        return;
                    }

                    // What came before can never be completed: report it, then start afresh with this text.
                    string broken = _pendingText.ToString();
                    _pendingText.Clear();
                    EmitParsed(broken, broken);
                    ConvertText(text);
                    return;
            }
        }

        private void EmitParsed(string json, object target)
        {
            try
            {
                foreach (RegistrationEvent parsed in RegistrationEventReader.Parse(json))
                {
                    WriteObject(parsed);
                }
            }
            catch (KalInputException ex)
            {
                object shownTarget = target is string text && text.Length > MaximumTargetLength ? text.Substring(0, MaximumTargetLength) + "…" : target;
                WriteError(new ErrorRecord(ex, ex.ErrorId, ErrorCategory.InvalidData, shownTarget));
            }
        }

        private static string ToJson(object value)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, JsonValueWriter.WriterOptions))
            {
                PowerShellJsonAdapter.CreateWriter().Write(writer, value, "event");
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }
    }
}
