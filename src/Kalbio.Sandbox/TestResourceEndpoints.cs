using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Kalbio.Sandbox;

/// <summary>
/// SANDBOX-ONLY TEST RESOURCES, not part of the Kaleidoscope wire contract (kaleidoscope-api.md). The real API has
/// programs, records and more, but their shapes are not published; these generic stand-ins exist so a generic
/// client (Invoke-KalApiRequest) can be tested against a real server: authenticated like every API path, logged
/// in /_sandbox/requests and open to faults. They are stateless (nothing to reset):
/// <list type="bullet">
/// <item><c>GET /programs</c>: a JSON array of two fixed programs (nested objects, arrays, nulls, numbers of every kind).</item>
/// <item><c>GET /programs/{id}</c>: one of them, or 404 <c>{"code","message"}</c>.</item>
/// <item><c>POST /programs</c>: 201 echoing the parsed body with an <c>id</c> added; 400 when it is not an object with a <c>name</c>.</item>
/// <item><c>PUT|PATCH /programs/{id}</c>: 200 echoing the parsed body with the <c>id</c>; 404 for an unknown id.</item>
/// <item><c>DELETE /programs/{id}</c>: 204; like the real API it refuses (400) an empty or non-JSON body; 404 for an unknown id.</item>
/// <item><c>GET /echo/query</c>: the query as received, raw and decoded in order: <c>{"raw", "parameters": [{"name","value"}]}</c>.</item>
/// </list>
/// </summary>
internal sealed class TestResourceEndpoints
{
    private const string CreatedId = "prg-created";

    private const string ProgramsJson = """
        [
          {
            "id": "prg-1",
            "name": "Kinase screen",
            "active": true,
            "sample_count": 1200,
            "budget": 1234.5,
            "precise_ratio": 0.12345678901234567890,
            "big_counter": 123456789012345678901234,
            "created_at": "2024-05-01T12:00:00+02:00",
            "owner": { "name": "Ada", "team": { "name": "Chemistry", "site": { "city": "Basel", "floor": 3 } } },
            "tags": ["hts", "kinase"],
            "stages": [{ "name": "primary", "plates": [1, 2, 3] }, { "name": "confirmatory", "plates": [] }],
            "notes": null
          },
          {
            "id": "prg-2",
            "name": "Stability panel",
            "active": false,
            "sample_count": 48,
            "budget": 0.0,
            "precise_ratio": 0.5,
            "big_counter": 0,
            "created_at": "2024-06-15T08:30:00Z",
            "owner": { "name": "Grace", "team": null },
            "tags": [],
            "stages": [],
            "notes": "ünïcode ✓"
          }
        ]
        """;

    private readonly SandboxState _state;

    public TestResourceEndpoints(SandboxState state)
    {
        _state = state;
    }

    /// <summary>Handles the request when the path is one of these resources; otherwise returns false.</summary>
    public bool TryHandle(HttpContext context, RequestPath path, out Task handled)
    {
        string method = context.Request.Method;
        if (path.Matches(0, "programs", out _))
        {
            handled = Authorized(context, method switch
            {
                "GET" => () => SandboxJsonRaw(context, 200, Programs()),
                "POST" => () => CreateAsync(context),
                _ => null,
            }, "GET, POST");
            return true;
        }

        if (path.Matches(0, "programs/{}", out string[] v))
        {
            string id = v[0];
            handled = Authorized(context, method switch
            {
                "GET" => () => GetAsync(context, id),
                "PUT" or "PATCH" => () => UpdateAsync(context, id),
                "DELETE" => () => DeleteAsync(context, id),
                _ => null,
            }, "GET, PUT, PATCH, DELETE");
            return true;
        }

        if (path.Matches(0, "echo/query", out _))
        {
            handled = Authorized(context, method == "GET" ? () => EchoQueryAsync(context, path.Query) : null, "GET");
            return true;
        }

        handled = Task.CompletedTask;
        return false;
    }

    private Task Authorized(HttpContext context, Func<Task>? handler, string allowed)
    {
        if (handler is null)
        {
            context.Response.Headers.Allow = allowed;
            return SandboxJson.WriteErrorAsync(context, 405, "method_not_allowed", $"Use {allowed}");
        }

        StringValues header = context.Request.Headers["X-Kal-Authorization"];
        AuthResult auth = _state.Tokens.Authenticate(header.Count == 0 ? null : header.ToString());
        return auth.Ok ? handler() : SandboxJson.WriteErrorAsync(context, 401, "unauthorized", auth.Message!);
    }

    private static JsonArray Programs() => JsonNode.Parse(ProgramsJson)!.AsArray();

    private static JsonObject? Find(string id) =>
        Programs().Select(p => p!.AsObject()).FirstOrDefault(p => (string?)p["id"] == id);

    private static Task GetAsync(HttpContext context, string id) =>
        Find(id) is JsonObject program ? SandboxJsonRaw(context, 200, program) : NotFoundAsync(context, id);

    private static async Task CreateAsync(HttpContext context)
    {
        JsonObject? body = await ReadObjectAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        if (body["name"] is not JsonValue name || name.GetValueKind() != JsonValueKind.String || ((string?)name)?.Length is null or 0)
        {
            var detail = new ValidationDetail("name", "is required and must be a non-empty string");
            await SandboxJson.WriteErrorAsync(context, 400, "validation_error", ResultsValidator.Describe(detail), [detail]).ConfigureAwait(false);
            return;
        }

        await SandboxJsonRaw(context, 201, WithId(CreatedId, body)).ConfigureAwait(false);
    }

    private static async Task UpdateAsync(HttpContext context, string id)
    {
        if (Find(id) is null)
        {
            await NotFoundAsync(context, id).ConfigureAwait(false);
            return;
        }

        JsonObject? body = await ReadObjectAsync(context).ConfigureAwait(false);
        if (body is not null)
        {
            await SandboxJsonRaw(context, 200, WithId(id, body)).ConfigureAwait(false);
        }
    }

    private static async Task DeleteAsync(HttpContext context, string id)
    {
        if (await ReadObjectAsync(context).ConfigureAwait(false) is null)
        {
            return;
        }

        if (Find(id) is null)
        {
            await NotFoundAsync(context, id).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = 204;
    }

    private static Task EchoQueryAsync(HttpContext context, string raw)
    {
        var parameters = new JsonArray();
        foreach (string pair in raw.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = pair.IndexOf('=');
            string name = equals < 0 ? pair : pair[..equals];
            string? value = equals < 0 ? null : pair[(equals + 1)..];

            // Decoded the way form-style servers do: '+' is a space, so a literal '+' must arrive as %2B.
            parameters.Add(new JsonObject
            {
                ["name"] = Uri.UnescapeDataString(name.Replace('+', ' ')),
                ["value"] = value is null ? null : Uri.UnescapeDataString(value.Replace('+', ' ')),
            });
        }

        return SandboxJsonRaw(context, 200, new JsonObject { ["raw"] = raw, ["parameters"] = parameters });
    }

    private static JsonObject WithId(string id, JsonObject body)
    {
        var result = new JsonObject { ["id"] = id };
        foreach (KeyValuePair<string, JsonNode?> property in body.ToList())
        {
            if (property.Key != "id")
            {
                body.Remove(property.Key);
                result[property.Key] = property.Value;
            }
        }

        return result;
    }

    /// <summary>Reads the body as a JSON object, or answers 400 (empty, not JSON, not an object) and returns null.</summary>
    private static async Task<JsonObject?> ReadObjectAsync(HttpContext context)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            var invalid = new ValidationDetail("$", "is not valid JSON (send {} for none): " + ex.Message);
            await SandboxJson.WriteErrorAsync(context, 400, "validation_error", ResultsValidator.Describe(invalid), [invalid]).ConfigureAwait(false);
            return null;
        }

        if (node is JsonObject body)
        {
            return body;
        }

        var detail = new ValidationDetail("$", "must be a JSON object");
        await SandboxJson.WriteErrorAsync(context, 400, "validation_error", ResultsValidator.Describe(detail), [detail]).ConfigureAwait(false);
        return null;
    }

    private static Task NotFoundAsync(HttpContext context, string id) =>
        SandboxJson.WriteErrorAsync(context, 404, "not_found", $"Program '{id}' not found");

    private static async Task SandboxJsonRaw(HttpContext context, int status, JsonNode node)
    {
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(node, SandboxJson.Options);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }
}
