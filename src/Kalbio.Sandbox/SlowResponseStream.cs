using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

/// <summary>
/// The bytes_per_second and stall_after_bytes faults: the body is sent at about that rate, and/or stops after that
/// many bytes and then hangs (connection open, nothing sent) until the client gives up or the sandbox stops.
/// They let tests watch a download in progress and cancel it mid-body.
/// </summary>
internal sealed class SlowResponseStream : Stream
{
    private readonly Stream _inner;
    private readonly long? _bytesPerSecond;
    private readonly CancellationToken _stopping;
    private readonly Stopwatch _clock = new();
    private long _remainingBeforeStall;
    private long _sent;

    public SlowResponseStream(Stream inner, long? bytesPerSecond, long? stallAfterBytes, CancellationToken stopping)
    {
        _inner = inner;
        _bytesPerSecond = bytesPerSecond;
        _remainingBeforeStall = stallAfterBytes ?? long.MaxValue;
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
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping);
        _clock.Start();
        while (!buffer.IsEmpty)
        {
            if (_remainingBeforeStall == 0)
            {
                await _inner.FlushAsync(linked.Token).ConfigureAwait(false);
                await Task.Delay(Timeout.Infinite, linked.Token).ConfigureAwait(false);
            }

            // Slices of a tenth of a second's worth keep the rate smooth.
            long slice = _bytesPerSecond is long rate ? Math.Max(1, rate / 10) : buffer.Length;
            int take = (int)Math.Min(Math.Min(buffer.Length, slice), _remainingBeforeStall);
            await _inner.WriteAsync(buffer[..take], linked.Token).ConfigureAwait(false);
            buffer = buffer[take..];
            _remainingBeforeStall -= take;
            _sent += take;
            if (_bytesPerSecond is long bytesPerSecond)
            {
                await _inner.FlushAsync(linked.Token).ConfigureAwait(false);
                TimeSpan due = TimeSpan.FromSeconds((double)_sent / bytesPerSecond) - _clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, linked.Token).ConfigureAwait(false);
                }
            }
        }

        if (_remainingBeforeStall == 0)
        {
            await _inner.FlushAsync(linked.Token).ConfigureAwait(false);
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
