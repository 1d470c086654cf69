using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kalbio.Sandbox;

/// <summary>
/// The one middleware: control-plane requests go straight to <see cref="ControlEndpoints"/>; every
/// other request is logged, may meet a queued fault, and is then served by <see cref="ApiEndpoints"/>.
/// </summary>
internal sealed class RequestPipeline
{
    private const long LoggedBodyLimit = 1L << 20;

    private readonly SandboxState _state;
    private readonly ApiEndpoints _api;
    private readonly ControlEndpoints _control;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;

    public RequestPipeline(SandboxState state, ILogger logger, CancellationToken stopping)
    {
        _state = state;
        _api = new ApiEndpoints(state);
        _control = new ControlEndpoints(state);
        _logger = logger;
        _stopping = stopping;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        RequestPath path = RequestPath.From(context);
        if (path.Segments[0] == "_sandbox")
        {
            await GuardAsync(context, () => _control.HandleAsync(context, path)).ConfigureAwait(false);
            return;
        }

        SandboxState.PendingRequest pending = _state.BeginRequest(context.Request.Method, path.Raw, path.Query, LowerCaseHeaders(context.Request.Headers));
        // The status is logged as the response starts, so a client that has its answer always finds it in the log.
        // A dropped connection may "start" only as Kestrel tears it down, after the final status (0) was logged.
        context.Response.OnStarting(() =>
        {
            _state.StartResponse(pending, context.Response.StatusCode);
            return Task.CompletedTask;
        });
        var recording = new RecordingStream(context.Request.Body, LoggedBodyLimit, hash: false);
        context.Request.Body = recording;
        DroppingResponseStream? dropper = null;
        bool dropped = false;
        try
        {
            bool answered = false;
            FaultSpec? fault = _state.Faults.Take(context.Request.Method, path.Raw, path.Decoded);
            if (fault is not null)
            {
                if (fault.DelayMs is > 0)
                {
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping);
                    await Task.Delay(fault.DelayMs.Value, linked.Token).ConfigureAwait(false);
                }

                if (fault.CloseConnection)
                {
                    dropped = true;
                    context.Abort();
                    return;
                }

                if (fault.RetryAfter is not null)
                {
                    context.Response.Headers.RetryAfter = fault.RetryAfter;
                }

                if (fault.Location is not null)
                {
                    context.Response.Headers.Location = fault.Location;
                }

                if (fault.DropAfterBytes is long allowed)
                {
                    dropper = new DroppingResponseStream(context, context.Response.Body, allowed);
                    context.Response.Body = dropper;
                }

                if (fault.BytesPerSecond is not null || fault.StallAfterBytes is not null)
                {
                    context.Response.Body = new SlowResponseStream(context.Response.Body, fault.BytesPerSecond, fault.StallAfterBytes, _stopping);
                }

                if (fault.Status is int status)
                {
                    await WriteFaultAsync(context, fault, status).ConfigureAwait(false);
                    answered = true;
                }
            }

            if (!answered)
            {
                await GuardAsync(context, () => _api.HandleAsync(context, path)).ConfigureAwait(false);
            }

            if (dropper is not null)
            {
                await dropper.DropAsync().ConfigureAwait(false);
            }
            else
            {
                try
                {
                    await recording.DrainAsync(context.RequestAborted).ConfigureAwait(false);
                }
                catch (BadHttpRequestException)
                {
                    // A malformed or oversized body after the answer was given: log what arrived.
                }
            }
        }
        catch (ConnectionDroppedException)
        {
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.IO.IOException && (context.RequestAborted.IsCancellationRequested || _stopping.IsCancellationRequested))
        {
            // The client went away (or a delay was cut short); nothing left to answer.
        }
        finally
        {
            dropped |= dropper?.Dropped == true || context.RequestAborted.IsCancellationRequested;
            _state.CompleteRequest(pending, dropped ? 0 : context.Response.StatusCode, recording.CapturedText, recording.BytesRead);
        }
    }

    private async Task GuardAsync(HttpContext context, Func<Task> handler)
    {
        try
        {
            await handler().ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await SandboxJson.WriteErrorAsync(context, ex.StatusCode, "bad_request", ex.Message).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not ConnectionDroppedException && !context.RequestAborted.IsCancellationRequested)
        {
            _logger.LogError(ex, "Unhandled error for {Method} {Path}", context.Request.Method, context.Request.Path);
            if (context.Response.HasStarted)
            {
                context.Abort();
                return;
            }

            context.Response.Clear();
            await SandboxJson.WriteErrorAsync(context, 500, "internal_error", ex.Message).ConfigureAwait(false);
        }
    }

    private static async Task WriteFaultAsync(HttpContext context, FaultSpec fault, int status)
    {
        context.Response.StatusCode = status;
        if (status is 204 or 304 || status < 200)
        {
            return;
        }

        string body = fault.Body ?? $"{{\"code\":\"injected_fault\",\"message\":\"Injected fault: HTTP {status}\"}}";
        string contentType = fault.ContentType
            ?? (fault.Body is null || body.TrimStart().StartsWith('{') || body.TrimStart().StartsWith('[')
                ? "application/json; charset=utf-8"
                : "text/plain; charset=utf-8");
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        context.Response.ContentType = contentType;
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }

    private static Dictionary<string, string> LowerCaseHeaders(IHeaderDictionary headers)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in headers)
        {
            result[header.Key.ToLowerInvariant()] = header.Value.ToString();
        }

        return result;
    }
}
