using System;
using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Kalbio.PowerShell.Model
{
    /// <summary>
    /// A record's data: field name -> value, in insertion order, names compared case-insensitively (like PowerShell's
    /// [ordered]@{}). Made for the few fields of a record: two small arrays and a linear search, and rows built with
    /// -DataProperty share one array of names until one of them is changed. At 100,000 rows that is a quarter of the
    /// memory traffic of an OrderedDictionary.
    /// </summary>
    [SuppressMessage("Naming", "CA1710", Justification = "A published type name since 0.1; scripts and format views select on it.")]
    [SuppressMessage("Design", "CA1010", Justification = "PowerShell reads record data as a non-generic IDictionary (like a hashtable); a generic view would only add surface.")]
    public sealed class KalRecordData : IDictionary
    {
        private string[] _names;
        private object?[] _values;
        private int _count;
        private bool _sharedNames;

        public KalRecordData()
            : this(4)
        {
        }

        public KalRecordData(int capacity)
        {
            _names = new string[Math.Max(capacity, 1)];
            _values = new object?[_names.Length];
        }

        /// <summary>Data over <paramref name="sharedNames"/> (not copied: never changed here, only replaced) and its own values.</summary>
        internal KalRecordData(string[] sharedNames, object?[] values)
        {
            _names = sharedNames;
            _values = values;
            _count = sharedNames.Length;
            _sharedNames = true;
        }

        public int Count => _count;

        public bool IsFixedSize => false;

        public bool IsReadOnly => false;

        public bool IsSynchronized => false;

        public object SyncRoot => this;

        public ICollection Keys
        {
            get
            {
                var names = new string[_count];
                Array.Copy(_names, names, _count);
                return names;
            }
        }

        public ICollection Values
        {
            get
            {
                var values = new object?[_count];
                Array.Copy(_values, values, _count);
                return values;
            }
        }

        public object? this[object key]
        {
            get
            {
                int index = IndexOf(NameOf(key));
                return index < 0 ? null : _values[index];
            }

            set
            {
                string name = NameOf(key);
                int index = IndexOf(name);
                if (index >= 0)
                {
                    _values[index] = value;
                }
                else
                {
                    Append(name, value);
                }
            }
        }

        public void Add(object key, object? value)
        {
            string name = NameOf(key);
            if (IndexOf(name) >= 0)
            {
                throw new ArgumentException($"The data already has a field named '{name}'.", nameof(key));
            }

            Append(name, value);
        }

        public bool Contains(object key) => key != null && IndexOf(NameOf(key)) >= 0;

        public void Remove(object key)
        {
            int index = IndexOf(NameOf(key));
            if (index < 0)
            {
                return;
            }

            OwnNames(_names.Length);
            Array.Copy(_names, index + 1, _names, index, _count - index - 1);
            Array.Copy(_values, index + 1, _values, index, _count - index - 1);
            _count--;
            _names[_count] = null!;
            _values[_count] = null;
        }

        public void Clear()
        {
            _names = new string[4];
            _values = new object?[4];
            _count = 0;
            _sharedNames = false;
        }

        public void CopyTo(Array array, int index)
        {
            for (int i = 0; i < _count; i++)
            {
                array.SetValue(new DictionaryEntry(_names[i], _values[i]), index + i);
            }
        }

        public IDictionaryEnumerator GetEnumerator() => new Enumerator(this);

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        private int IndexOf(string name)
        {
            for (int i = 0; i < _count; i++)
            {
                if (string.Equals(_names[i], name, StringComparison.OrdinalIgnoreCase))
                {
                    return i;
                }
            }

            return -1;
        }

        private void Append(string name, object? value)
        {
            int capacity = _count < _names.Length ? _names.Length : _names.Length * 2;
            OwnNames(capacity);
            if (_values.Length < capacity)
            {
                Array.Resize(ref _values, capacity);
            }

            _names[_count] = name;
            _values[_count] = value;
            _count++;
        }

        private void OwnNames(int capacity)
        {
            if (_sharedNames || _names.Length < capacity)
            {
                var names = new string[capacity];
                Array.Copy(_names, names, _count);
                _names = names;
                _sharedNames = false;
            }
        }

        private static string NameOf(object key) =>
            key as string ?? Convert.ToString(key, CultureInfo.InvariantCulture) ?? throw new ArgumentNullException(nameof(key));

        private sealed class Enumerator : IDictionaryEnumerator
        {
            private readonly KalRecordData _data;
            private int _index = -1;

            public Enumerator(KalRecordData data) => _data = data;

            public object Key => _data._names[_index];

            public object? Value => _data._values[_index];

            public DictionaryEntry Entry => new DictionaryEntry(Key, Value);

            public object Current => Entry;

            public bool MoveNext() => ++_index < _data._count;

            public void Reset() => _index = -1;
        }
    }
}
