using System;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Kalbio.Sandbox;

/// <summary>
/// Deterministic pseudo-random content from (seed, size): a 1 MiB xorshift block per seed, and each
/// 1 MiB chunk of the file is that block XORed with a 64-bit key derived from (seed, chunk index), so
/// chunks never repeat while serving costs only a copy and an XOR.
/// </summary>
internal static class GeneratedContent
{
    public const int BlockSize = 1 << 20;

    private static readonly ConcurrentDictionary<int, byte[]> Blocks = new();

    public static byte[] BlockFor(int seed)
    {
        if (Blocks.Count > 64)
        {
            Blocks.Clear();
        }

        return Blocks.GetOrAdd(seed, BuildBlock);
    }

    /// <summary>Writes the bytes at [position, position + destination.Length) of the content.</summary>
    public static void Fill(int seed, byte[] block, long position, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            long chunk = position / BlockSize;
            int inChunk = (int)(position % BlockSize);
            int count = Math.Min(destination.Length, BlockSize - inChunk);
            Span<byte> target = destination[..count];
            block.AsSpan(inChunk, count).CopyTo(target);

            // Key byte j applies to block offsets with (offset % 8) == j; rotate so lane 0 of target lines up.
            ulong key = BitOperations.RotateRight(ChunkKey(seed, chunk), 8 * (inChunk & 7));
            int whole = count & ~7;
            ulong laneKey = BitConverter.IsLittleEndian ? key : BinaryPrimitives.ReverseEndianness(key);
            Span<ulong> lanes = MemoryMarshal.Cast<byte, ulong>(target[..whole]);
            for (int i = 0; i < lanes.Length; i++)
            {
                lanes[i] ^= laneKey;
            }

            for (int i = whole; i < count; i++)
            {
                target[i] ^= (byte)(key >> (8 * (i & 7)));
            }

            destination = destination[count..];
            position += count;
        }
    }

    private static ulong ChunkKey(int seed, long chunk)
    {
        ulong state = ((ulong)(uint)seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)chunk * 0xD1B54A32D192ED03UL) ^ 0x5851F42D4C957F2DUL;
        return SplitMix(ref state);
    }

    private static byte[] BuildBlock(int seed)
    {
        var block = new byte[BlockSize];
        ulong splitState = (ulong)(uint)seed ^ 0x6A09E667F3BCC909UL;
        ulong x = SplitMix(ref splitState) | 1UL;
        for (int offset = 0; offset < BlockSize; offset += 8)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(offset, 8), x);
        }

        return block;
    }

    private static ulong SplitMix(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>A read-only, seekable view of generated content; it never holds more than the shared 1 MiB block.</summary>
internal sealed class GeneratedContentStream : Stream
{
    private readonly int _seed;
    private readonly long _length;
    private readonly byte[] _block;
    private long _position;

    public GeneratedContentStream(int seed, long length)
    {
        _seed = seed;
        _length = length;
        _block = GeneratedContent.BlockFor(seed);
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = Math.Clamp(value, 0, _length);
    }

    public override int Read(Span<byte> buffer)
    {
        int count = (int)Math.Min(buffer.Length, _length - _position);
        if (count <= 0)
        {
            return 0;
        }

        GeneratedContent.Fill(_seed, _block, _position, buffer[..count]);
        _position += count;
        return count;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override System.Threading.Tasks.ValueTask<int> ReadAsync(Memory<byte> buffer, System.Threading.CancellationToken cancellationToken = default) =>
        new(Read(buffer.Span));

    public override System.Threading.Tasks.Task<int> ReadAsync(byte[] buffer, int offset, int count, System.Threading.CancellationToken cancellationToken) =>
        System.Threading.Tasks.Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => _length + offset,
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
