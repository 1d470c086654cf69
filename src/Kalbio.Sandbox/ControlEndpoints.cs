using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;

namespace Kalbio.Sandbox;

/// <summary>The test control plane under /_sandbox/: no auth, never logged, never faulted.</summary>
internal sealed class ControlEndpoints
{
    private readonly SandboxState _state;

    public ControlEndpoints(SandboxState state)
    {
        _state = state;
    }

    public async Task HandleAsync(HttpContext context, RequestPath path)
    {
        try
        {
            await DispatchAsync(context, path, context.Request.Method).ConfigureAwait(false);
        }
        catch (SandboxException ex)
        {
            await SandboxJson.WriteErrorAsync(context, ex.StatusCode, ex.Code, ex.Message).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            await SandboxJson.WriteErrorAsync(context, 400, "bad_request", "Invalid JSON body: " + ex.Message).ConfigureAwait(false);
        }
    }

    private async Task DispatchAsync(HttpContext context, RequestPath path, string method)
    {
        // Segment 0 is "_sandbox".
        switch (method)
        {
            case "POST" when path.Matches(1, "reset", out _):
                _state.Reset();
                context.Response.StatusCode = 204;
                return;
            case "POST" when path.Matches(1, "files", out _):
                SeedFileRequest seed = await ReadAsync<SeedFileRequest>(context).ConfigureAwait(false);
                await SandboxJson.WriteAsync(context, 201, _state.SeedFile(seed)).ConfigureAwait(false);
                return;
            case "GET" when path.Matches(1, "files", out _):
                await SandboxJson.WriteAsync(context, 200, _state.GetSeededFileIds()).ConfigureAwait(false);
                return;
            case "GET" when path.Matches(1, "files/{}/sha256", out string[] v):
                await SandboxJson.WriteAsync(context, 200, await _state.GetFileHashAsync(v[0], context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
                return;
            case "POST" when path.Matches(1, "registrations", out _):
                RegistrationRequest registration = await ReadAsync<RegistrationRequest>(context).ConfigureAwait(false);
                await SandboxJson.WriteAsync(context, 201, _state.CreateRegistration(registration.OperationId, registration.FileId)).ConfigureAwait(false);
                return;
            case "GET" when path.Matches(1, "registrations", out _):
                await SandboxJson.WriteAsync(context, 200, _state.GetAllRegistrations()).ConfigureAwait(false);
                return;
            case "POST" when path.Matches(1, "config", out _):
                await ConfigureAsync(context).ConfigureAwait(false);
                return;
            case "GET" when path.Matches(1, "config", out _):
                await SandboxJson.WriteAsync(context, 200, _state.Config).ConfigureAwait(false);
                return;
            case "POST" when path.Matches(1, "clients", out _):
                SandboxClientRequest client = await ReadAsync<SandboxClientRequest>(context).ConfigureAwait(false);
                _state.AddClient(client.ClientId, client.ClientSecret);
                context.Response.StatusCode = 204;
                return;
            case "POST" when path.Matches(1, "tokens/expire", out _):
                _state.ExpireAccessTokens();
                context.Response.StatusCode = 204;
                return;
            case "POST" when path.Matches(1, "tokens/revoke", out _):
                await RevokeAsync(context).ConfigureAwait(false);
                return;
            case "GET" when path.Matches(1, "tokens/issued", out _):
                await SandboxJson.WriteAsync(context, 200, _state.GetIssuedTokens()).ConfigureAwait(false);
                return;
            case "GET" when path.Matches(1, "grants", out _):
                await SandboxJson.WriteAsync(context, 200, _state.GetGrants()).ConfigureAwait(false);
                return;
            case "GET" when path.Matches(1, "requests", out _):
                await SandboxJson.WriteAsync(context, 200, _state.GetRequests()).ConfigureAwait(false);
                return;
            case "DELETE" when path.Matches(1, "requests", out _):
                _state.ClearRequests();
                context.Response.StatusCode = 204;
                return;
            case "GET" when path.Matches(1, "submissions", out _):
                await SandboxJson.WriteAsync(context, 200, _state.GetSubmissions()).ConfigureAwait(false);
                return;
            case "GET" when path.Matches(1, "webhooks", out _):
                await SandboxJson.WriteAsync(context, 200, _state.GetWebhookDeliveries()).ConfigureAwait(false);
                return;
            case "POST" when path.Matches(1, "webhooks/send", out _):
                await SendWebhookAsync(context).ConfigureAwait(false);
                return;
            case "POST" when path.Matches(1, "faults", out _):
                _state.AddFault(await ReadAsync<FaultSpec>(context).ConfigureAwait(false));
                context.Response.StatusCode = 204;
                return;
            case "GET" when path.Matches(1, "faults", out _):
                await SandboxJson.WriteAsync(context, 200, _state.GetFaults()).ConfigureAwait(false);
                return;
            case "DELETE" when path.Matches(1, "faults", out _):
                _state.ClearFaults();
                context.Response.StatusCode = 204;
                return;
            default:
                await SandboxJson.WriteErrorAsync(context, 404, "not_found", $"No such control endpoint: {method} {path.Raw}").ConfigureAwait(false);
                return;
        }
    }

    private async Task ConfigureAsync(HttpContext context)
    {
        // Parsed by hand: "webhook_url": null (clear it) must differ from leaving it out.
        using JsonDocument document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new SandboxException(400, "bad_request", "The body must be a JSON object");
        }

        foreach (JsonProperty property in root.EnumerateObject())
        {
            JsonElement value = property.Value;
            switch (property.Name)
            {
                case "access_token_lifetime_seconds" when value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int seconds):
                    _state.SetAccessTokenLifetime(seconds);
                    break;
                case "webhook_url" when value.ValueKind is JsonValueKind.String or JsonValueKind.Null:
                    _state.SetWebhookUrl(value.GetString());
                    break;
                case "webhook_headers" when value.ValueKind is JsonValueKind.Object or JsonValueKind.Null:
                    var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    if (value.ValueKind == JsonValueKind.Object)
                    {
                        foreach (JsonProperty header in value.EnumerateObject())
                        {
                            headers[header.Name] = header.Value.ValueKind == JsonValueKind.String
                                ? header.Value.GetString()!
                                : throw new SandboxException(400, "bad_request", $"webhook_headers.{header.Name} must be a string");
                        }
                    }

                    _state.SetWebhookHeaders(headers);
                    break;
                default:
                    throw new SandboxException(400, "bad_request", $"Unknown or ill-typed config field '{property.Name}'");
            }
        }

        context.Response.StatusCode = 204;
    }

    private async Task RevokeAsync(HttpContext context)
    {
        RevokeRequest request = await ReadAsync<RevokeRequest>(context, optional: true).ConfigureAwait(false) ?? new RevokeRequest();
        TokenRevocation what = request.What switch
        {
            "access" => TokenRevocation.Access,
            "refresh" => TokenRevocation.Refresh,
            "all" or null => TokenRevocation.All,
            _ => throw new SandboxException(400, "bad_request", "what must be \"access\", \"refresh\" or \"all\""),
        };
        _state.RevokeTokens(what);
        context.Response.StatusCode = 204;
    }

    private async Task SendWebhookAsync(HttpContext context)
    {
        WebhookSendRequest request = await ReadAsync<WebhookSendRequest>(context).ConfigureAwait(false);
        if (request.TimeoutSeconds is double seconds && !(seconds > 0 && seconds <= 3600))
        {
            throw new SandboxException(400, "bad_request", "timeout_seconds must be more than 0 and at most 3600");
        }

        TimeSpan? timeout = request.TimeoutSeconds is double given ? TimeSpan.FromSeconds(given) : null;
        WebhookDelivery delivery = await _state.SendWebhookAsync(request.OperationId, request.FileId, request.Url, timeout, context.RequestAborted).ConfigureAwait(false);
        if (delivery.Status is int status)
        {
            await SandboxJson.WriteAsync(context, 200, new WebhookSendResult(status)).ConfigureAwait(false);
        }
        else
        {
            await SandboxJson.WriteErrorAsync(context, 502, "webhook_failed", delivery.Error ?? "delivery failed").ConfigureAwait(false);
        }
    }

    private static async Task<T> ReadAsync<T>(HttpContext context)
        where T : class =>
        await ReadAsync<T>(context, optional: false).ConfigureAwait(false)
        ?? throw new SandboxException(400, "bad_request", "The body must be a JSON object");

    /// <summary>Reads a small JSON body strictly (unknown fields refused); an empty body gives null when optional.</summary>
    private static async Task<T?> ReadAsync<T>(HttpContext context, bool optional)
        where T : class
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        if (buffer.Length == 0 && optional)
        {
            return null;
        }

        return JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), SandboxJson.StrictRead);
    }

    private sealed class RegistrationRequest
    {
        public string OperationId { get; set; } = "";
        public string FileId { get; set; } = "";
    }

    private sealed class SandboxClientRequest
    {
        public string ClientId { get; set; } = "";
        public string ClientSecret { get; set; } = "";
    }

    private sealed class RevokeRequest
    {
        public string? What { get; set; }
    }

    private sealed class WebhookSendRequest
    {
        public string OperationId { get; set; } = "";
        public string FileId { get; set; } = "";
        public string? Url { get; set; }

        /// <summary>How long to wait for the listener's answer; the sender's usual 10 s when absent.</summary>
        public double? TimeoutSeconds { get; set; }
    }

    private sealed record WebhookSendResult(int Status);
}
