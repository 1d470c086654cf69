using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

/// <summary>
/// What a newcomer needs to try the module against a sandbox started by hand (<c>--guide</c>): the credentials, the
/// seeded ids, the line to connect with, and how the sandbox sends <c>registration_submitted</c>
/// (<c>--send-demo-event</c>). The control endpoints are documented in docs/sandbox.md.
/// </summary>
internal static class SandboxGuide
{
    private static readonly TimeSpan OfferInterval = TimeSpan.FromSeconds(1);

    public static void Write(TextWriter output, SandboxServer server, SandboxOptions options, bool sendDemoEvent)
    {
        string baseUri = server.BaseUri.ToString().TrimEnd('/');
        SandboxClient client = options.EffectiveClients()[0];
        output.WriteLine();
        output.WriteLine($"The Kaleidoscope sandbox is listening at {baseUri} (Ctrl+C stops it).");
        output.WriteLine($"  client id       {client.ClientId}");
        output.WriteLine($"  client secret   {client.ClientSecret}");
        if (options.SeedDemo)
        {
            output.WriteLine($"  seeded file id  {DemoData.FileId} ({DemoData.FileName}, {DemoData.RecordIds.Count} records)");
            output.WriteLine($"  operation id    {DemoData.OperationId}");
        }

        output.WriteLine();
        output.WriteLine("Connect from another PowerShell (Import-Module ./out/Kalbio first):");
        output.WriteLine($"  Connect-KalApi -ClientId {client.ClientId} -ClientSecret (Read-Host -AsSecureString 'Client secret') -BaseUri {baseUri}");
        output.WriteLine($"  or, for the README's quick start: $env:KALEIDOSCOPE_API_URL = '{baseUri}'; $clientId = '{client.ClientId}'");
        output.WriteLine();
        if (sendDemoEvent && options.WebhookUrl is not null)
        {
            output.WriteLine($"registration_submitted for {DemoData.FileName} goes to {options.WebhookUrl} as soon as a listener there answers,");
            output.WriteLine("for example the README's quick start (Receive-KalWebhookEvent -Port 8080 -Count 1 ...).");
        }
        else if (options.WebhookUrl is not null)
        {
            output.WriteLine($"Webhook deliveries go to {options.WebhookUrl} whenever a file is registered:");
            output.WriteLine($"  Register-KalFile -OperationId {DemoData.OperationId} -FileId {DemoData.FileId}");
        }
        else
        {
            output.WriteLine("To have it send a registration_submitted event to a listener, start it with -WebhookUrl, e.g.");
            output.WriteLine("  dotnet pwsh ./build.ps1 -Task Sandbox -WebhookUrl http://127.0.0.1:8080/kaleidoscope/events");
        }

        output.WriteLine($"Control endpoints (send an event again, reset, inject faults): docs/sandbox.md, under {baseUri}/_sandbox/.");
        output.WriteLine();
        output.Flush();
    }

    /// <summary>
    /// Registers the demo file into the demo operation and offers its registration_submitted event to the webhook URL
    /// every second until a listener answers: 2xx ends it, as does any other answer (which is reported).
    /// </summary>
    public static async Task OfferDemoEventAsync(TextWriter output, SandboxServer server, string webhookUrl, CancellationToken ct)
    {
        server.State.CreateRegistration(DemoData.OperationId, DemoData.FileId);
        while (!ct.IsCancellationRequested)
        {
            WebhookDelivery delivery = await server.State.SendWebhookAsync(DemoData.OperationId, DemoData.FileId, webhookUrl, ct: ct).ConfigureAwait(false);
            if (delivery.Status is int status)
            {
                output.WriteLine(status is >= 200 and < 300
                    ? $"Sent registration_submitted for {DemoData.FileName} to {webhookUrl}: {status}."
                    : $"{webhookUrl} answered registration_submitted with {status}; not sent again (POST /_sandbox/webhooks/send sends it, see docs/sandbox.md).");
                output.Flush();
                return;
            }

            await Task.Delay(OfferInterval, ct).ConfigureAwait(false);
        }
    }
}
