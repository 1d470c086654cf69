using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

/// <summary>
/// The stall_after_bytes fault: that many body bytes reach the client, then the response hangs (connection
/// open, nothing sent) until the client gives up or the sandbox stops. Lets tests cancel a download mid-body.
/// </summary>
internal sealed class StallingResponseStream : Stream
{
    private readonly Stream _inner;
    private readonly CancellationToken _stopping;
    private long _remaining;

    public StallingResponseStream(Stream inner, long allowedBytes, CancellationToken stopping)
    {
        _inner = inner;
        _remaining = allowedBytes;
        _stopping = stopping;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int take = (int)Math.Min(buffer.Length, _remaining);
        if (take > 0)
        {
            await _inner.WriteAsync(buffer[..take], cancellationToken).ConfigureAwait(false);
            _remaining -= take;
        }

        if (_remaining == 0)
        {
            await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping);
            await Task.Delay(Timeout.Infinite, linked.Token).ConfigureAwait(false);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
