using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Text;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// The record ids seen so far, each with the position of its record: the duplicate check of a submission. Ids are
    /// kept as UTF-8 bytes in 1 MB blocks with an open-addressing table of ints, about 30 bytes an id (a
    /// Dictionary&lt;string, int&gt; costs about 100 with the strings it keeps alive), so that a million ids do not
    /// hold on to a hundred megabytes. Ids that are not valid UTF-16 text, or longer than 64 KB, go to a dictionary (a
    /// submission refuses ids with a lone surrogate before they get here; the set still keeps them apart on its own).
    /// </summary>
    internal sealed class RecordIdSet
    {
        private const int BlockSize = 1 << 20;
        private const int MaximumEncodedLength = ushort.MaxValue;

        // Locations are block << 20 | offset in an int: past 2 GB of ids, the rest go to the dictionary.
        private const int MaximumBlocks = 2047;

        private static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        private readonly List<byte[]> _blocks = new List<byte[]>();
        private Dictionary<string, int>? _others;
        private byte[] _scratch = new byte[256];
        private int _used = BlockSize;
        private int[] _slots = new int[1024];
        private int[] _locations = new int[256];
        private int[] _positions = new int[256];
        private int[] _hashes = new int[256];
        private int _count;

        public int Count => _count + (_others?.Count ?? 0);

        /// <summary>Adds <paramref name="id"/> at <paramref name="position"/>; false, with the first position, when it was there already.</summary>
        [MethodImpl(HotPath.Optimize)]
        public bool TryAdd(string id, int position, out int firstPosition)
        {
            int length = Encode(id);
            if (length < 0)
            {
                _others ??= new Dictionary<string, int>(StringComparer.Ordinal);
                if (_others.TryGetValue(id, out firstPosition))
                {
                    return false;
                }

                _others.Add(id, position);
                firstPosition = position;
                return true;
            }

            int hash = StringComparer.Ordinal.GetHashCode(id);
            int slot = Find(length, hash, out int entry);
            if (entry >= 0)
            {
                firstPosition = _positions[entry];
                return false;
            }

            Insert(new ReadOnlySpan<byte>(_scratch, 0, length), hash, position, slot);
            firstPosition = position;
            return true;
        }

        public bool Contains(string id)
        {
            int length = Encode(id);
            return length < 0
                ? _others != null && _others.ContainsKey(id)
                : Find(length, StringComparer.Ordinal.GetHashCode(id), out int entry) >= 0 && entry >= 0;
        }

        /// <summary>The UTF-8 form of <paramref name="id"/> in the scratch buffer, and its length; -1 for the dictionary.</summary>
        private int Encode(string id)
        {
            int length;
            try
            {
                length = Strict.GetByteCount(id);
            }
            catch (EncoderFallbackException)
            {
                return -1;
            }

            if (length > MaximumEncodedLength || _blocks.Count >= MaximumBlocks)
            {
                return -1;
            }

            if (_scratch.Length < length)
            {
                // Stryker disable once Arithmetic : only how far the scratch array grows past the id's length; the id always fits
                _scratch = new byte[Math.Max(length, _scratch.Length * 2)];
            }

            Strict.GetBytes(id, 0, id.Length, _scratch, 0);
            return length;
        }

        /// <summary>The slot of the encoded id in the scratch buffer, with its entry (or -1 and the free slot to put it in).</summary>
        [MethodImpl(HotPath.Optimize)]
        private int Find(int length, int hash, out int entry)
        {
            var encoded = new ReadOnlySpan<byte>(_scratch, 0, length);
            int mask = _slots.Length - 1;
            for (int slot = hash & mask; ; slot = (slot + 1) & mask)
            {
                entry = _slots[slot] - 1;
                if (entry < 0 || (_hashes[entry] == hash && Stored(entry).SequenceEqual(encoded)))
                {
                    return slot;
                }
            }
        }

        private ReadOnlySpan<byte> Stored(int entry)
        {
            int location = _locations[entry];
            byte[] block = _blocks[location >> 20];
            int offset = location & (BlockSize - 1);
            int length = block[offset] | (block[offset + 1] << 8);
            return new ReadOnlySpan<byte>(block, offset + 2, length);
        }

        private void Insert(ReadOnlySpan<byte> encoded, int hash, int position, int slot)
        {
            if (_used + encoded.Length + 2 > BlockSize)
            {
                // Stryker disable once Arithmetic : an id is at most 65,535 + 2 bytes, far below BlockSize, so a block is always BlockSize
                _blocks.Add(new byte[Math.Max(BlockSize, encoded.Length + 2)]);
                _used = 0;
            }

            byte[] block = _blocks[_blocks.Count - 1];
            block[_used] = (byte)encoded.Length;
            block[_used + 1] = (byte)(encoded.Length >> 8);
            encoded.CopyTo(new Span<byte>(block, _used + 2, encoded.Length));
            if (_count == _locations.Length)
            {
                Array.Resize(ref _locations, _count * 2);
                Array.Resize(ref _positions, _count * 2);
                Array.Resize(ref _hashes, _count * 2);
            }

            _locations[_count] = ((_blocks.Count - 1) << 20) | _used;
            _positions[_count] = position;
            _hashes[_count] = hash;
            _used += encoded.Length + 2;
            _slots[slot] = ++_count;
            if (_count * 2 > _slots.Length)
            {
                Grow();
            }
        }

        private void Grow()
        {
            var slots = new int[_slots.Length * 2];
            int mask = slots.Length - 1;
            for (int entry = 0; entry < _count; entry++)
            {
                int slot = _hashes[entry] & mask;
                while (slots[slot] != 0)
                {
                    slot = (slot + 1) & mask;
                }

                slots[slot] = entry + 1;
            }

            _slots = slots;
        }
    }
}
