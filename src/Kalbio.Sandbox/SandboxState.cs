using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

/// <summary>
/// Everything the sandbox holds and saw; thread-safe. The control plane (/_sandbox/...) is a thin
/// HTTP layer over these methods, so in-process tests can use either.
/// </summary>
public sealed class SandboxState : IDisposable
{
    /// <summary>The workspace every registration belongs to.</summary>
    public const string WorkspaceId = "7d1f0c3a-2b4e-4f6a-9c8d-0e1f2a3b4c5d";

    internal static readonly string[] Statuses = ["pending", "validated", "validation_failed", "submitted", "completed", "failed"];

    private readonly SandboxOptions _options;
    private readonly object _gate = new();
    private readonly Dictionary<(string Operation, string File), Registration> _registrations = new();
    private readonly List<Registration> _registrationOrder = new();
    private readonly List<SubmissionRecord> _submissions = new();
    private readonly List<PendingRequest> _requests = new();
    private readonly List<WebhookDelivery> _webhooks = new();
    private int _tokenLifetime;
    private string? _webhookUrl;
    private Dictionary<string, string> _webhookHeaders = new(StringComparer.OrdinalIgnoreCase);

    internal SandboxState(SandboxOptions options)
    {
        _options = options;
        Files = new FileStore(options.FilesDirectory);
        Webhooks = new WebhookSender(this);
        Reset();
    }

    internal TokenStore Tokens { get; } = new();
    internal FileStore Files { get; }
    internal FaultInjector Faults { get; } = new();
    internal WebhookSender Webhooks { get; }

    /// <summary>The server's base address (set once it listens); used for webhook file URLs.</summary>
    public Uri BaseUri { get; internal set; } = new("http://127.0.0.1/");

    public SandboxConfig Config
    {
        get
        {
            lock (_gate)
            {
                return new SandboxConfig(_tokenLifetime, _webhookUrl, new Dictionary<string, string>(_webhookHeaders, StringComparer.OrdinalIgnoreCase));
            }
        }
    }

    internal int TokenLifetimeSeconds
    {
        get
        {
            lock (_gate)
            {
                return _tokenLifetime;
            }
        }
    }

    /// <summary>Clears registrations, submissions, logs, faults and tokens; restores the start options; drops seeded files (re-seeding the demo file if enabled).</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _registrations.Clear();
            _registrationOrder.Clear();
            _submissions.Clear();
            _requests.Clear();
            _webhooks.Clear();
            _tokenLifetime = _options.AccessTokenLifetimeSeconds;
            _webhookUrl = string.IsNullOrEmpty(_options.WebhookUrl) ? null : _options.WebhookUrl;
            _webhookHeaders = new Dictionary<string, string>(_options.WebhookHeaders, StringComparer.OrdinalIgnoreCase);
        }

        Tokens.Reset(_options.EffectiveClients());
        Faults.Clear();
        Files.Clear();
        if (_options.SeedDemo)
        {
            Files.Seed(DemoData.CreateSeedRequest());
        }
    }

    public SeededFileInfo SeedFile(SeedFileRequest request) => Files.Seed(request);

    public Task<FileHash> GetFileHashAsync(string fileId, CancellationToken ct = default)
    {
        SandboxFile file = Files.Find(fileId) ?? throw FileNotFound(fileId);
        return file.ComputeHashAsync(ct);
    }

    public IReadOnlyList<string> GetSeededFileIds() => Files.SeededIds();

    public void SetAccessTokenLifetime(int seconds)
    {
        if (seconds < 0)
        {
            throw new SandboxException(400, "bad_request", "access_token_lifetime_seconds must not be negative");
        }

        lock (_gate)
        {
            _tokenLifetime = seconds;
        }
    }

    public void SetWebhookUrl(string? url)
    {
        if (!string.IsNullOrEmpty(url) && !Uri.TryCreate(url, UriKind.Absolute, out _))
        {
            throw new SandboxException(400, "bad_request", "webhook_url must be an absolute URL");
        }

        lock (_gate)
        {
            _webhookUrl = string.IsNullOrEmpty(url) ? null : url;
        }
    }

    public void SetWebhookHeaders(IReadOnlyDictionary<string, string> headers)
    {
        lock (_gate)
        {
            _webhookHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (KeyValuePair<string, string> pair in headers)
            {
                _webhookHeaders[pair.Key] = pair.Value;
            }
        }
    }

    public void AddClient(string clientId, string clientSecret)
    {
        if (string.IsNullOrEmpty(clientId) || clientSecret is null)
        {
            throw new SandboxException(400, "bad_request", "client_id and client_secret are required");
        }

        Tokens.AddClient(clientId, clientSecret);
    }

    public void ExpireAccessTokens() => Tokens.ExpireAccessTokens();

    public void RevokeTokens(TokenRevocation what) => Tokens.Revoke(what);

    public GrantStats GetGrants() => Tokens.Snapshot();

    public IReadOnlyList<string> GetIssuedTokens() => Tokens.IssuedTokens();

    public void AddFault(FaultSpec fault) => Faults.Add(fault);

    public IReadOnlyList<FaultSpec> GetFaults() => Faults.List();

    public void ClearFaults() => Faults.Clear();

    /// <summary>Creates (or returns) a registration without delivering a webhook.</summary>
    public RegistrationFile CreateRegistration(string operationId, string fileId)
    {
        if (string.IsNullOrEmpty(operationId) || string.IsNullOrEmpty(fileId))
        {
            throw new SandboxException(400, "bad_request", "operation_id and file_id are required");
        }

        if (Files.Find(fileId) is null)
        {
            throw FileNotFound(fileId);
        }

        return Register(operationId, fileId, "sandbox");
    }

    public RegistrationFile? GetRegistration(string operationId, string fileId)
    {
        lock (_gate)
        {
            return _registrations.TryGetValue((operationId, fileId), out Registration? registration)
                ? registration.Snapshot(withRecordErrors: true)
                : null;
        }
    }

    public IReadOnlyList<RegistrationFile> GetRegistrations(string operationId)
    {
        lock (_gate)
        {
            var list = new List<RegistrationFile>();
            foreach (Registration registration in _registrationOrder)
            {
                if (registration.OperationId == operationId)
                {
                    list.Add(registration.Snapshot(withRecordErrors: true));
                }
            }

            return list;
        }
    }

    public IReadOnlyList<RegistrationFile> GetAllRegistrations()
    {
        lock (_gate)
        {
            return _registrationOrder.ConvertAll(r => r.Snapshot(withRecordErrors: true));
        }
    }

    public IReadOnlyList<SubmissionRecord> GetSubmissions()
    {
        lock (_gate)
        {
            return _submissions.ToArray();
        }
    }

    public IReadOnlyList<RequestLogEntry> GetRequests()
    {
        lock (_gate)
        {
            return _requests.ConvertAll(r => r.Snapshot());
        }
    }

    public void ClearRequests()
    {
        lock (_gate)
        {
            _requests.Clear();
        }
    }

    public IReadOnlyList<WebhookDelivery> GetWebhookDeliveries()
    {
        lock (_gate)
        {
            return _webhooks.ToArray();
        }
    }

    /// <summary>Delivers a registration_submitted event now to <paramref name="url"/> or the configured webhook URL.</summary>
    public Task<WebhookDelivery> SendWebhookAsync(string operationId, string fileId, string? url = null, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        SandboxFile file = Files.Find(fileId) ?? throw FileNotFound(fileId);
        string? target = string.IsNullOrEmpty(url) ? Config.WebhookUrl : url;
        if (target is null)
        {
            throw new SandboxException(400, "bad_request", "no url given and no webhook_url configured");
        }

        if (!Uri.TryCreate(target, UriKind.Absolute, out _))
        {
            throw new SandboxException(400, "bad_request", "url must be an absolute URL");
        }

        return Webhooks.DeliverAsync(target, operationId, file, ct, timeout);
    }

    public void Dispose() => Webhooks.Dispose();

    internal static SandboxException FileNotFound(string fileId) => new(404, "not_found", $"File '{fileId}' not found");

    internal static SandboxException RegistrationNotFound(string operationId, string fileId) =>
        new(404, "not_found", $"Registration of file '{fileId}' in operation '{operationId}' not found");

    internal RegistrationFile Register(string operationId, string fileId, string clientId)
    {
        lock (_gate)
        {
            if (!_registrations.TryGetValue((operationId, fileId), out Registration? registration))
            {
                DateTime now = DateTime.UtcNow;
                registration = new Registration
                {
                    Id = Guid.NewGuid().ToString(),
                    OperationId = operationId,
                    FileId = fileId,
                    Status = "pending",
                    CreatedBy = clientId,
                    LastUpdatedBy = clientId,
                    CreatedAt = now,
                    UpdatedAt = now,
                };
                _registrations[(operationId, fileId)] = registration;
                _registrationOrder.Add(registration);
            }

            return registration.Snapshot(withRecordErrors: false);
        }
    }

    internal bool RegistrationExists(string operationId, string fileId)
    {
        lock (_gate)
        {
            return _registrations.ContainsKey((operationId, fileId));
        }
    }

    internal bool UpdateStatus(string operationId, string fileId, string status, string? message, string clientId)
    {
        lock (_gate)
        {
            if (!_registrations.TryGetValue((operationId, fileId), out Registration? registration))
            {
                return false;
            }

            registration.Status = status;
            registration.Message = message;
            registration.ErrorMessage = message;
            registration.LastUpdatedBy = clientId;
            registration.UpdatedAt = DateTime.UtcNow;
            return true;
        }
    }

    internal bool CompleteResults(string operationId, string fileId, ResultsValidation results, SubmissionRecord submission, string clientId)
    {
        lock (_gate)
        {
            if (!_registrations.TryGetValue((operationId, fileId), out Registration? registration))
            {
                return false;
            }

            registration.Status = results.Status == "success" ? "completed" : "failed";
            registration.Message = results.Message ?? results.ErrorMessage;
            registration.ErrorMessage = results.ErrorMessage ?? results.Message;
            registration.RecordErrors = results.RecordErrors;
            registration.LastUpdatedBy = clientId;
            registration.UpdatedAt = DateTime.UtcNow;
            _submissions.Add(submission);
            return true;
        }
    }

    internal PendingRequest BeginRequest(string method, string path, string query, IReadOnlyDictionary<string, string> headers)
    {
        var pending = new PendingRequest(method, path, query, headers, DateTime.UtcNow);
        lock (_gate)
        {
            _requests.Add(pending);
        }

        return pending;
    }

    internal void CompleteRequest(PendingRequest pending, int status, string? body, long bodyLength)
    {
        lock (_gate)
        {
            pending.Status = status;
            pending.Body = body;
            pending.BodyLength = bodyLength;
            pending.Completed = true;
        }
    }

    /// <summary>Logs the status as the response starts, unless the request was already completed (e.g. dropped).</summary>
    internal void StartResponse(PendingRequest pending, int status)
    {
        lock (_gate)
        {
            if (!pending.Completed)
            {
                pending.Status = status;
            }
        }
    }

    internal void RecordWebhook(WebhookDelivery delivery)
    {
        lock (_gate)
        {
            _webhooks.Add(delivery);
        }
    }

    internal sealed class PendingRequest(string method, string path, string query, IReadOnlyDictionary<string, string> headers, DateTime at)
    {
        public int Status { get; set; }
        public bool Completed { get; set; }
        public string? Body { get; set; }
        public long BodyLength { get; set; }

        public RequestLogEntry Snapshot() => new(method, path, query, headers, Body, BodyLength, Status, at);
    }

    private sealed class Registration
    {
        public required string Id { get; init; }
        public required string OperationId { get; init; }
        public required string FileId { get; init; }
        public required string Status { get; set; }
        public string? Message { get; set; }
        public string? ErrorMessage { get; set; }
        public required string CreatedBy { get; init; }
        public required string LastUpdatedBy { get; set; }
        public required DateTime CreatedAt { get; init; }
        public required DateTime UpdatedAt { get; set; }
        public IReadOnlyList<RecordError> RecordErrors { get; set; } = Array.Empty<RecordError>();

        public RegistrationFile Snapshot(bool withRecordErrors) => new()
        {
            Id = Id,
            WorkspaceId = SandboxState.WorkspaceId,
            OperationId = OperationId,
            FileId = FileId,
            Status = Status,
            Message = Message,
            ErrorMessage = ErrorMessage,
            CreatedBy = CreatedBy,
            LastUpdatedBy = LastUpdatedBy,
            CreatedAt = CreatedAt,
            UpdatedAt = UpdatedAt,
            RecordErrors = withRecordErrors ? RecordErrors : null,
        };
    }
}
