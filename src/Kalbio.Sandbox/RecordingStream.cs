using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

/// <summary>
/// Passes a request body through while counting it, keeping a copy while it stays under a limit and,
/// optionally, hashing it; so huge bodies are never held twice.
/// </summary>
internal sealed class RecordingStream : Stream
{
    private readonly Stream _inner;
    private readonly long _captureLimit;
    private readonly IncrementalHash? _hash;
    private MemoryStream? _capture = new();

    /// <param name="declaredLength">The body's Content-Length, if known: a body declared at least as long as the
    /// limit is not copied at all (it would be dropped at the limit).</param>
    public RecordingStream(Stream inner, long captureLimit, bool hash, long? declaredLength = null)
    {
        _inner = inner;
        _captureLimit = captureLimit;
        _hash = hash ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        if (declaredLength >= captureLimit)
        {
            _capture = null;
        }
    }

    public long BytesRead { get; private set; }

    /// <summary>The body as UTF-8 text when it stayed under the capture limit, else null.</summary>
    public string? CapturedText => _capture is null ? null : Encoding.UTF8.GetString(_capture.GetBuffer(), 0, (int)_capture.Length);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    public string HashHex() => Convert.ToHexStringLower(_hash!.GetHashAndReset());

    public override int Read(byte[] buffer, int offset, int count) => Observe(buffer.AsSpan(offset, _inner.Read(buffer, offset, count)));

    public override int Read(Span<byte> buffer) => Observe(buffer[.._inner.Read(buffer)]);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Observe(buffer.Span[..read]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Reads whatever the handler left unread, so the length (and copy) cover the whole body.</summary>
    public async Task DrainAsync(CancellationToken ct)
    {
        byte[] buffer = new byte[81920];
        while (await ReadAsync(buffer, ct).ConfigureAwait(false) > 0)
        {
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash?.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Observe(ReadOnlySpan<byte> data)
    {
        BytesRead += data.Length;
        _hash?.AppendData(data);
        if (_capture is not null)
        {
            if (BytesRead >= _captureLimit)
            {
                _capture = null;
            }
            else
            {
                _capture.Write(data);
            }
        }

        return data.Length;
    }
}

/// <summary>Thrown to stop a handler once a fault has dropped the connection.</summary>
internal sealed class ConnectionDroppedException : Exception
{
    public ConnectionDroppedException()
        : base("The connection was dropped by an injected fault.")
    {
    }
}
