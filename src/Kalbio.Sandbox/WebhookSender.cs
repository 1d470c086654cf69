using System;
using System.Collections.Generic;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

internal sealed record WebhookEventData(
    string OperationId,
    string FileId,
    string FileName,
    string FileUrl,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ActivityId,
    IReadOnlyList<string> RecordIds);

internal sealed record WebhookEvent(string EventType, string EventId, DateTime CreatedAt, WebhookEventData Data);

/// <summary>POSTs registration_submitted events and records each delivery; failures are recorded, never thrown.</summary>
internal sealed class WebhookSender : IDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly SandboxState _state;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    private readonly HashSet<Task> _background = new();

    public WebhookSender(SandboxState state)
    {
        _state = state;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, ActivityHeadersPropagator = null })
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Delivers to the configured webhook URL, if any, without making the caller wait.</summary>
    public void DeliverInBackground(string operationId, SandboxFile file)
    {
        string? url = _state.Config.WebhookUrl;
        if (url is null)
        {
            return;
        }

        Task task = Task.Run(() => DeliverAsync(url, operationId, file, _stopping.Token));
        lock (_gate)
        {
            _background.Add(task);
        }

        task.ContinueWith(
            t =>
            {
                lock (_gate)
                {
                    _background.Remove(t);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public async Task<WebhookDelivery> DeliverAsync(string url, string operationId, SandboxFile file, CancellationToken ct, TimeSpan? timeout = null)
    {
        string body = JsonSerializer.Serialize(BuildEvent(operationId, file), SandboxJson.Options);
        SandboxConfig config = _state.Config;
        int? status = null;
        string? error = null;
        TimeSpan wait = timeout ?? DefaultTimeout;
        using var expiry = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        expiry.CancelAfter(wait);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url)
            {
                Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("X-Kal-Event", "registration_submitted");
            foreach (KeyValuePair<string, string> header in config.WebhookHeaders)
            {
                if (!request.Headers.TryAddWithoutValidation(header.Key, header.Value))
                {
                    request.Content.Headers.Remove(header.Key);
                    request.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, expiry.Token).ConfigureAwait(false);
            status = (int)response.StatusCode;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && !_stopping.IsCancellationRequested)
        {
            error = $"timed out after {wait.TotalSeconds:0.###} s";
        }
        catch (Exception ex)
        {
            error = ex.InnerException is null || ex.Message.Contains(ex.InnerException.Message, StringComparison.Ordinal)
                ? ex.Message
                : $"{ex.Message} ({ex.InnerException.Message})";
        }

        var delivery = new WebhookDelivery(url, status, error, body, DateTime.UtcNow);
        _state.RecordWebhook(delivery);
        return delivery;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        Task[] pending;
        lock (_gate)
        {
            pending = [.. _background];
        }

        try
        {
            Task.WaitAll(pending, TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        _http.Dispose();
        _stopping.Dispose();
    }

    private WebhookEvent BuildEvent(string operationId, SandboxFile file)
    {
        string baseUrl = _state.BaseUri.ToString().TrimEnd('/');
        string escapedFile = Uri.EscapeDataString(file.FileId);
        string fileUrl = file.ActivityId is null
            ? $"{baseUrl}/files/{escapedFile}"
            : $"{baseUrl}/activities/{Uri.EscapeDataString(file.ActivityId)}/file/{escapedFile}";
        var data = new WebhookEventData(operationId, file.FileId, file.FileName, fileUrl, file.ActivityId, FileStore.RecordIdsFor(file));
        return new WebhookEvent("registration_submitted", Guid.NewGuid().ToString(), DateTime.UtcNow, data);
    }
}
