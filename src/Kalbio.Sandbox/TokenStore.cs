using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace Kalbio.Sandbox;

internal sealed record TokenGrant(string AccessToken, string RefreshToken, int ExpiresIn);

/// <summary>The outcome of a token request: a grant, or an OAuth error code with its HTTP status.</summary>
internal sealed record TokenResult(TokenGrant? Grant, int Status, string? ErrorCode, string? ErrorMessage);

internal sealed record AuthResult(bool Ok, string? ClientId, string? Message);

/// <summary>
/// Access and refresh tokens grouped in families (one per client-credentials grant). Refresh tokens
/// rotate; presenting a spent one revokes its family. One lock makes rotation race-free.
/// </summary>
internal sealed class TokenStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, string> _clients = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AccessEntry> _access = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RefreshEntry> _refresh = new(StringComparer.Ordinal);
    private readonly List<GrantLogEntry> _log = new();
    private int _clientCredentials;
    private int _refreshes;
    private int _failed;
    private int _familiesRevoked;

    public void Reset(IEnumerable<SandboxClient> clients)
    {
        lock (_gate)
        {
            _clients.Clear();
            foreach (SandboxClient client in clients)
            {
                _clients[client.ClientId] = client.ClientSecret;
            }

            _access.Clear();
            _refresh.Clear();
            _log.Clear();
            _clientCredentials = _refreshes = _failed = _familiesRevoked = 0;
        }
    }

    public void AddClient(string clientId, string clientSecret)
    {
        lock (_gate)
        {
            _clients[clientId] = clientSecret;
        }
    }

    public TokenResult GrantClientCredentials(string? clientId, string? clientSecret, int lifetimeSeconds)
    {
        lock (_gate)
        {
            if (string.IsNullOrEmpty(clientId) || clientSecret is null
                || !_clients.TryGetValue(clientId, out string? expected)
                || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(clientSecret)))
            {
                return Fail("client_credentials", 401, "invalid_client", "Client authentication failed: unknown client id or wrong secret");
            }

            var family = new Family(clientId);
            _clientCredentials++;
            Log("client_credentials", "issued", 200);
            return new TokenResult(Issue(family, lifetimeSeconds), 200, null, null);
        }
    }

    public TokenResult Refresh(string? refreshToken, int lifetimeSeconds)
    {
        lock (_gate)
        {
            if (string.IsNullOrEmpty(refreshToken) || !_refresh.TryGetValue(refreshToken, out RefreshEntry? entry))
            {
                return Fail("refresh_token", 400, "invalid_grant", "Unknown refresh token");
            }

            if (entry.Revoked || entry.Family.Revoked)
            {
                return Fail("refresh_token", 400, "invalid_grant", "Refresh token has been revoked");
            }

            if (entry.Spent)
            {
                RevokeFamily(entry.Family);
                _familiesRevoked++;
                return Fail("refresh_token", 400, "invalid_grant", "Refresh token was already used; its token family has been revoked", "reuse_detected_family_revoked");
            }

            entry.Spent = true;
            _refreshes++;
            Log("refresh_token", "issued", 200);
            return new TokenResult(Issue(entry.Family, lifetimeSeconds), 200, null, null);
        }
    }

    public TokenResult UnsupportedGrant(string? grantType)
    {
        lock (_gate)
        {
            string shown = string.IsNullOrEmpty(grantType) ? "(none)" : grantType;
            return Fail(grantType ?? "", 400, "unsupported_grant_type", $"Unsupported grant_type '{shown}'");
        }
    }

    public AuthResult Authenticate(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return new AuthResult(false, null, "Missing X-Kal-Authorization header");
        }

        string value = header.Trim();
        const string Scheme = "Bearer ";
        if (!value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return new AuthResult(false, null, "X-Kal-Authorization must be 'Bearer <access token>'");
        }

        string token = value[Scheme.Length..].Trim();
        lock (_gate)
        {
            if (!_access.TryGetValue(token, out AccessEntry? entry))
            {
                return new AuthResult(false, null, "Unknown access token");
            }

            if (entry.Revoked || entry.Family.Revoked)
            {
                return new AuthResult(false, null, "Access token has been revoked");
            }

            if (DateTime.UtcNow >= entry.ExpiresAt)
            {
                return new AuthResult(false, null, "Access token has expired");
            }

            return new AuthResult(true, entry.Family.ClientId, null);
        }
    }

    public void ExpireAccessTokens()
    {
        lock (_gate)
        {
            DateTime now = DateTime.UtcNow;
            foreach (AccessEntry entry in _access.Values)
            {
                if (entry.ExpiresAt > now)
                {
                    entry.ExpiresAt = now;
                }
            }
        }
    }

    public void Revoke(TokenRevocation what)
    {
        lock (_gate)
        {
            if (what is TokenRevocation.Access or TokenRevocation.All)
            {
                foreach (AccessEntry entry in _access.Values)
                {
                    entry.Revoked = true;
                }
            }

            if (what is TokenRevocation.Refresh or TokenRevocation.All)
            {
                foreach (RefreshEntry entry in _refresh.Values)
                {
                    entry.Revoked = true;
                }
            }
        }
    }

    public GrantStats Snapshot()
    {
        lock (_gate)
        {
            return new GrantStats(_clientCredentials, _refreshes, _failed, _familiesRevoked, _log.ToArray());
        }
    }

    /// <summary>Every access and refresh token issued since the last reset, so tests can look for leaks.</summary>
    public IReadOnlyList<string> IssuedTokens()
    {
        lock (_gate)
        {
            return _access.Keys.Concat(_refresh.Keys).ToArray();
        }
    }

    private TokenGrant Issue(Family family, int lifetimeSeconds)
    {
        string access = NewToken();
        string refresh = NewToken();
        var accessEntry = new AccessEntry(family, DateTime.UtcNow.AddSeconds(lifetimeSeconds));
        var refreshEntry = new RefreshEntry(family);
        _access[access] = accessEntry;
        _refresh[refresh] = refreshEntry;
        family.Access.Add(accessEntry);
        family.Refresh.Add(refreshEntry);
        return new TokenGrant(access, refresh, lifetimeSeconds);
    }

    private static void RevokeFamily(Family family)
    {
        family.Revoked = true;
        foreach (AccessEntry entry in family.Access)
        {
            entry.Revoked = true;
        }

        foreach (RefreshEntry entry in family.Refresh)
        {
            entry.Revoked = true;
        }
    }

    private TokenResult Fail(string grantType, int status, string code, string message, string? outcome = null)
    {
        _failed++;
        Log(grantType, outcome ?? code, status);
        return new TokenResult(null, status, code, message);
    }

    private void Log(string grantType, string outcome, int status) =>
        _log.Add(new GrantLogEntry(grantType, outcome, status, DateTime.UtcNow));

    private static string NewToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed class Family(string clientId)
    {
        public string ClientId { get; } = clientId;
        public bool Revoked { get; set; }
        public List<AccessEntry> Access { get; } = new();
        public List<RefreshEntry> Refresh { get; } = new();
    }

    private sealed class AccessEntry(Family family, DateTime expiresAt)
    {
        public Family Family { get; } = family;
        public DateTime ExpiresAt { get; set; } = expiresAt;
        public bool Revoked { get; set; }
    }

    private sealed class RefreshEntry(Family family)
    {
        public Family Family { get; } = family;
        public bool Spent { get; set; }
        public bool Revoked { get; set; }
    }
}
