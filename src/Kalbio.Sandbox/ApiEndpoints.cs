using System;
using System.Buffers;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Kalbio.Sandbox;

/// <summary>The emulated Kaleidoscope API (see kaleidoscope-api.md).</summary>
internal sealed class ApiEndpoints
{
    private const int CopyChunk = 1 << 20;
    private const long SubmissionKeepLimit = 64L * 1024 * 1024;

    private readonly SandboxState _state;
    private readonly TestResourceEndpoints _testResources;

    public ApiEndpoints(SandboxState state)
    {
        _state = state;
        _testResources = new TestResourceEndpoints(state);
    }

    public Task HandleAsync(HttpContext context, RequestPath path)
    {
        string method = context.Request.Method;
        if (path.Matches(0, "auth/oauth/token", out _))
        {
            return Only(context, "POST", () => TokenAsync(context));
        }

        if (path.Matches(0, "files/{}", out string[] v))
        {
            return Authorized(context, "GET", _ => DownloadAsync(context, v[0], activityId: null));
        }

        if (path.Matches(0, "activities/{}/file/{}", out v))
        {
            return Authorized(context, "GET", _ => DownloadAsync(context, v[1], activityId: v[0]));
        }

        if (path.Matches(0, "storage/{}", out v))
        {
            // A signed storage link, as a storage host would serve it: no API token needed.
            return Only(context, "GET", () => DownloadAsync(context, v[0], activityId: null));
        }

        if (path.Matches(0, "operations/{}/register/{}", out v))
        {
            return Authorized(context, "POST", client => RegisterAsync(context, v[0], v[1], client));
        }

        if (path.Matches(0, "operations/{}/register/{}/results", out v))
        {
            return Authorized(context, "POST", client => ResultsAsync(context, v[0], v[1], client));
        }

        if (path.Matches(0, "operations/{}/registrations", out v))
        {
            return Authorized(context, "GET", _ => SandboxJson.WriteAsync(context, 200, _state.GetRegistrations(v[0])));
        }

        if (path.Matches(0, "operations/{}/registration_files/{}/status", out v))
        {
            return Authorized(context, "POST", client => StatusAsync(context, v[0], v[1], client));
        }

        if (_testResources.TryHandle(context, path, out Task handled))
        {
            return handled;
        }

        return SandboxJson.WriteErrorAsync(context, 404, "not_found", $"No such endpoint: {method} {path.Raw}");
    }

    private static Task Only(HttpContext context, string method, Func<Task> handler)
    {
        if (!HttpMethods.Equals(context.Request.Method, method))
        {
            context.Response.Headers.Allow = method;
            return SandboxJson.WriteErrorAsync(context, 405, "method_not_allowed", $"Use {method}");
        }

        return handler();
    }

    private Task Authorized(HttpContext context, string method, Func<string, Task> handler) =>
        Only(context, method, () =>
        {
            StringValues header = context.Request.Headers["X-Kal-Authorization"];
            AuthResult auth = _state.Tokens.Authenticate(header.Count == 0 ? null : header.ToString());
            return auth.Ok
                ? handler(auth.ClientId!)
                : SandboxJson.WriteErrorAsync(context, 401, "unauthorized", auth.Message!);
        });

    private async Task TokenAsync(HttpContext context)
    {
        IFormCollection form = context.Request.HasFormContentType
            ? await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false)
            : FormCollection.Empty;
        string? grantType = Field(form, "grant_type");
        int lifetime = _state.TokenLifetimeSeconds;
        TokenResult result = grantType switch
        {
            "client_credentials" => _state.Tokens.GrantClientCredentials(Field(form, "client_id"), Field(form, "client_secret"), lifetime),
            "refresh_token" => _state.Tokens.Refresh(Field(form, "refresh_token"), lifetime),
            _ => _state.Tokens.UnsupportedGrant(grantType),
        };

        context.Response.Headers.CacheControl = "no-store";
        if (result.Grant is TokenGrant grant)
        {
            await SandboxJson.WriteAsync(context, 200, grant).ConfigureAwait(false);
        }
        else
        {
            await SandboxJson.WriteErrorAsync(context, result.Status, result.ErrorCode!, result.ErrorMessage!).ConfigureAwait(false);
        }
    }

    private static string? Field(IFormCollection form, string name) =>
        form.TryGetValue(name, out StringValues value) && value.Count > 0 ? value[0] : null;

    private async Task DownloadAsync(HttpContext context, string fileId, string? activityId)
    {
        SandboxFile? file = _state.Files.Find(fileId);
        if (file is null || (activityId is not null && !string.Equals(file.ActivityId, activityId, StringComparison.Ordinal)))
        {
            await SandboxJson.WriteErrorAsync(context, 404, "not_found", $"File '{fileId}' not found").ConfigureAwait(false);
            return;
        }

        CancellationToken ct = context.RequestAborted;
        await using Stream content = file.OpenRead();
        long remaining = content.Length;
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = remaining;

        byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyChunk);
        try
        {
            while (remaining > 0)
            {
                int read = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(CopyChunk, remaining)), ct).ConfigureAwait(false);
                if (read == 0)
                {
                    // The file shrank while being served; the connection cannot be completed honestly.
                    context.Abort();
                    return;
                }

                await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task RegisterAsync(HttpContext context, string operationId, string fileId, string clientId)
    {
        JsonElement? body = await ReadJsonAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        if (body.Value.ValueKind != JsonValueKind.Object)
        {
            await BodyMustBeObjectAsync(context).ConfigureAwait(false);
            return;
        }

        SandboxFile? file = _state.Files.Find(fileId);
        if (file is null)
        {
            await SandboxJson.WriteErrorAsync(context, 404, "not_found", $"File '{fileId}' not found").ConfigureAwait(false);
            return;
        }

        RegistrationFile registration = _state.Register(operationId, fileId, clientId);
        await SandboxJson.WriteAsync(context, 200, registration).ConfigureAwait(false);
        _state.Webhooks.DeliverInBackground(operationId, file);
    }

    private async Task StatusAsync(HttpContext context, string operationId, string fileId, string clientId)
    {
        if (!_state.RegistrationExists(operationId, fileId))
        {
            await RegistrationNotFoundAsync(context, operationId, fileId).ConfigureAwait(false);
            return;
        }

        JsonElement? body = await ReadJsonAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var problems = ResultsValidator.ValidateStatus(body.Value, out string? status, out string? message);
        if (problems.Count > 0)
        {
            await SandboxJson.WriteErrorAsync(context, 400, "validation_error", ResultsValidator.Describe(problems[0]), problems).ConfigureAwait(false);
            return;
        }

        if (!_state.UpdateStatus(operationId, fileId, status!, message, clientId))
        {
            await RegistrationNotFoundAsync(context, operationId, fileId).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = 204;
    }

    private async Task ResultsAsync(HttpContext context, string operationId, string fileId, string clientId)
    {
        if (!_state.RegistrationExists(operationId, fileId))
        {
            await RegistrationNotFoundAsync(context, operationId, fileId).ConfigureAwait(false);
            return;
        }

        await using var recording = new RecordingStream(context.Request.Body, SubmissionKeepLimit, hash: true, context.Request.ContentLength);
        ResultsValidation results;
        try
        {
            results = await ResultsBodyValidator.ValidateAsync(recording, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            // Answered, as before, once the whole body has come in.
            await recording.DrainAsync(context.RequestAborted).ConfigureAwait(false);
            await InvalidJsonAsync(context, ex).ConfigureAwait(false);
            return;
        }

        if (results.Problems.Count > 0)
        {
            await SandboxJson.WriteErrorAsync(context, 400, "validation_error", ResultsValidator.Describe(results.Problems[0]), results.Problems).ConfigureAwait(false);
            return;
        }

        // The parser may stop before trailing whitespace; the submission should cover every byte sent.
        await recording.DrainAsync(context.RequestAborted).ConfigureAwait(false);
        var submission = new SubmissionRecord(operationId, fileId, recording.CapturedText, recording.BytesRead, results.RecordCount, recording.HashHex(), DateTime.UtcNow);
        if (!_state.CompleteResults(operationId, fileId, results, submission, clientId))
        {
            await RegistrationNotFoundAsync(context, operationId, fileId).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = 204;
    }

    /// <summary>Parses the body as JSON, or answers 400 and returns null.</summary>
    private static async Task<JsonElement?> ReadJsonAsync(HttpContext context)
    {
        try
        {
            using JsonDocument document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            await InvalidJsonAsync(context, ex).ConfigureAwait(false);
            return null;
        }
    }

    private static Task InvalidJsonAsync(HttpContext context, JsonException ex)
    {
        var detail = new ValidationDetail("$", "is not valid JSON: " + ex.Message);
        return SandboxJson.WriteErrorAsync(context, 400, "validation_error", ResultsValidator.Describe(detail), [detail]);
    }

    private static Task BodyMustBeObjectAsync(HttpContext context)
    {
        var detail = new ValidationDetail("$", "must be a JSON object");
        return SandboxJson.WriteErrorAsync(context, 400, "validation_error", ResultsValidator.Describe(detail), [detail]);
    }

    private static Task RegistrationNotFoundAsync(HttpContext context, string operationId, string fileId)
    {
        SandboxException error = SandboxState.RegistrationNotFound(operationId, fileId);
        return SandboxJson.WriteErrorAsync(context, 404, error.Code, error.Message);
    }
}
