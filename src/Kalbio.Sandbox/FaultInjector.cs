using System;
using System.Collections.Generic;

namespace Kalbio.Sandbox;

/// <summary>Queued faults; a matching request takes the first match and uses up one of its times.</summary>
internal sealed class FaultInjector
{
    private readonly object _gate = new();
    private readonly List<FaultSpec> _faults = new();

    public void Add(FaultSpec fault)
    {
        if (fault.Times < 1)
        {
            throw new SandboxException(400, "bad_request", "times must be at least 1");
        }

        if (fault.Status is int status && (status < 100 || status > 599))
        {
            throw new SandboxException(400, "bad_request", "status must be an HTTP status code (100-599)");
        }

        if (fault.DelayMs is < 0 || fault.DropAfterBytes is < 0 || fault.StallAfterBytes is < 0)
        {
            throw new SandboxException(400, "bad_request", "delay_ms, drop_after_bytes and stall_after_bytes must not be negative");
        }

        if (fault.BytesPerSecond is < 1)
        {
            throw new SandboxException(400, "bad_request", "bytes_per_second must be at least 1");
        }

        lock (_gate)
        {
            _faults.Add(fault.Clone());
        }
    }

    public IReadOnlyList<FaultSpec> List()
    {
        lock (_gate)
        {
            return _faults.ConvertAll(f => f.Clone());
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _faults.Clear();
        }
    }

    /// <summary>Takes one use of the first fault matching the request, or null.</summary>
    public FaultSpec? Take(string method, string rawPath, string decodedPath)
    {
        lock (_gate)
        {
            for (int i = 0; i < _faults.Count; i++)
            {
                FaultSpec fault = _faults[i];
                if (fault.Method is not null && !string.Equals(fault.Method, method, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (!string.IsNullOrEmpty(fault.PathPrefix)
                    && !rawPath.StartsWith(fault.PathPrefix, StringComparison.Ordinal)
                    && !decodedPath.StartsWith(fault.PathPrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                FaultSpec taken = fault.Clone();
                fault.Times--;
                if (fault.Times <= 0)
                {
                    _faults.RemoveAt(i);
                }

                return taken;
            }
        }

        return null;
    }
}
