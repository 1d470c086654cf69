using System;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Kalbio.Sandbox;

/// <summary>
/// The request target as sent: routing works on raw segments, each unescaped on its own, so an id
/// like <c>a%2Fb</c> stays one segment <c>a/b</c>.
/// </summary>
internal sealed class RequestPath
{
    private RequestPath(string raw, string query, string[] segments)
    {
        Raw = raw;
        Query = query;
        Segments = segments;
    }

    /// <summary>The path as sent, still percent-encoded.</summary>
    public string Raw { get; }

    /// <summary>The query without its leading '?', or "".</summary>
    public string Query { get; }

    /// <summary>The unescaped segments after the leading '/'.</summary>
    public string[] Segments { get; }

    public string Decoded => "/" + string.Join('/', Segments);

    public static RequestPath From(HttpContext context)
    {
        string? target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target))
        {
            target = context.Request.PathBase.ToUriComponent() + context.Request.Path.ToUriComponent() + context.Request.QueryString.ToUriComponent();
        }

        // Absolute-form targets (sent to proxies) carry scheme and authority.
        int scheme = target.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0 && !target.StartsWith('/'))
        {
            int slash = target.IndexOf('/', scheme + 3);
            target = slash < 0 ? "/" : target[slash..];
        }

        string raw = target;
        string query = "";
        int mark = target.IndexOf('?');
        if (mark >= 0)
        {
            raw = target[..mark];
            query = target[(mark + 1)..];
        }

        string trimmed = raw.StartsWith('/') ? raw[1..] : raw;
        string[] segments = trimmed.Split('/');
        for (int i = 0; i < segments.Length; i++)
        {
            segments[i] = Uri.UnescapeDataString(segments[i]);
        }

        return new RequestPath(raw, query, segments);
    }

    /// <summary>Matches a pattern like <c>files/{}</c>; each <c>{}</c> captures one segment.</summary>
    public bool Matches(int offset, string pattern, out string[] values)
    {
        string[] parts = pattern.Split('/');
        values = Array.Empty<string>();
        if (Segments.Length - offset != parts.Length)
        {
            return false;
        }

        var captured = new System.Collections.Generic.List<string>();
        for (int i = 0; i < parts.Length; i++)
        {
            string segment = Segments[offset + i];
            if (parts[i] == "{}")
            {
                captured.Add(segment);
            }
            else if (!string.Equals(parts[i], segment, StringComparison.Ordinal))
            {
                return false;
            }
        }

        values = captured.ToArray();
        return true;
    }
}
