using System;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Kalbio.Sandbox;

/// <summary>
/// The drop_after_bytes fault: the normal status and headers (with the full Content-Length) and that
/// many body bytes reach the client, then the connection ends.
/// </summary>
/// <remarks>
/// Kestrel's own abort resets the connection (RST) and may discard output still queued in its pipe, so
/// on plain HTTP the response is written straight to the socket and ended with a FIN: the client then
/// reliably sees a short body ("transfer closed with N bytes remaining"). Under TLS the bytes go through
/// Kestrel, are flushed, and the connection is aborted after a short pause.
/// </remarks>
internal sealed class DroppingResponseStream : Stream
{
    private static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan ClientCloseWait = TimeSpan.FromSeconds(2);

    private readonly HttpContext _context;
    private readonly Stream _inner;
    private readonly Socket? _socket;
    private long _remaining;
    private bool _headersSent;

    public DroppingResponseStream(HttpContext context, Stream inner, long allowedBytes)
    {
        _context = context;
        _inner = inner;
        _remaining = allowedBytes;
        _socket = context.Request.IsHttps ? null : context.Features.Get<IConnectionSocketFeature>()?.Socket;
    }

    public bool Dropped { get; private set; }

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
        if (Dropped)
        {
            throw new ConnectionDroppedException();
        }

        int take = (int)Math.Min(buffer.Length, _remaining);
        await SendAsync(buffer[..take], cancellationToken).ConfigureAwait(false);
        _remaining -= take;
        if (_remaining == 0)
        {
            await DropAsync().ConfigureAwait(false);
            throw new ConnectionDroppedException();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        Dropped || _socket is not null ? Task.CompletedTask : _inner.FlushAsync(cancellationToken);

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Ends the connection now (also used when the handler wrote fewer bytes than allowed).</summary>
    public async Task DropAsync()
    {
        if (Dropped)
        {
            return;
        }

        try
        {
            if (_socket is not null)
            {
                await SendAsync(ReadOnlyMemory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
                _socket.Shutdown(SocketShutdown.Send);

                // Let the client read up to the FIN and hang up before Kestrel tears the socket down.
                await Task.WhenAny(Task.Delay(ClientCloseWait), WhenAborted()).ConfigureAwait(false);
            }
            else
            {
                await _inner.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                await Task.Delay(SettleTime).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The client may be gone already; ending the connection is what we want anyway.
        }

        Dropped = true;
        _context.Abort();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private async Task SendAsync(ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        if (_socket is null)
        {
            if (!body.IsEmpty)
            {
                await _inner.WriteAsync(body, ct).ConfigureAwait(false);
            }

            return;
        }

        if (!_headersSent)
        {
            _headersSent = true;
            await SendAllAsync(Encoding.ASCII.GetBytes(HeaderBlock()), ct).ConfigureAwait(false);
        }

        await SendAllAsync(body, ct).ConfigureAwait(false);
    }

    private async Task SendAllAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            int sent = await _socket!.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    private string HeaderBlock()
    {
        HttpResponse response = _context.Response;
        var head = new StringBuilder();
        head.Append("HTTP/1.1 ").Append(response.StatusCode).Append(' ').Append(ReasonPhrases.GetReasonPhrase(response.StatusCode)).Append("\r\n");
        head.Append("Date: ").Append(DateTime.UtcNow.ToString("R")).Append("\r\n");
        foreach (var header in response.Headers)
        {
            foreach (string? value in header.Value)
            {
                head.Append(header.Key).Append(": ").Append(value).Append("\r\n");
            }
        }

        if (response.ContentLength is null)
        {
            // No length announced: the body is delimited by the connection close.
            head.Append("Connection: close\r\n");
        }

        return head.Append("\r\n").ToString();
    }

    private Task WhenAborted()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _context.RequestAborted.Register(() => done.TrySetResult());
        return done.Task;
    }
}
