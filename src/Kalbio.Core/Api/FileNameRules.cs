using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using Kalbio.PowerShell.Client;

namespace Kalbio.Core.Api
{
    /// <summary>
    /// What a downloaded file may be saved as: one plain name (often server-supplied) that stays in the chosen folder.
    /// The Windows and Unix rules are both stated here, so either can be checked on any system.
    /// </summary>
    internal sealed class FileNameRules
    {
        private static readonly char[] PathSeparators = { '/', '\\' };

        private const int MaximumFileNameLength = 255;

        private static readonly string[] WindowsDeviceNames =
        {
            "CON", "PRN", "AUX", "NUL",
            "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
            "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
        };

        /// <summary>Windows: no <c>"&lt;&gt;|:*?\/</c>, length in UTF-16 characters, no trailing dot or space, no device names.</summary>
        public static readonly FileNameRules Windows = new FileNameRules(windows: true, "\"<>|:*?\\/\0".ToCharArray());

        /// <summary>Unix: no <c>/</c> or NUL, length in UTF-8 bytes.</summary>
        public static readonly FileNameRules Unix = new FileNameRules(windows: false, new[] { '/', '\0' });

        /// <summary>The rules of the system this runs on.</summary>
        public static FileNameRules Current { get; } = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? Windows : Unix;

        private readonly bool _windows;
        private readonly char[] _invalidCharacters;

        private FileNameRules(bool windows, char[] invalidCharacters)
        {
            _windows = windows;
            _invalidCharacters = invalidCharacters;
        }

        /// <summary>
        /// The name to save a file under: the last path segment of <paramref name="fileName"/> (usually server-supplied),
        /// or the file id when no name is given. Throws <see cref="KalInputException"/> (InvalidFileName) for a name
        /// that cannot be a file name in one folder.
        /// </summary>
        public string SaveAsName(string? fileName, string fileId)
        {
            if (string.IsNullOrEmpty(fileName))
            {
                return Check(fileId, $"The file id '{Printable.Of(fileId)}' cannot be used as a file name", "FileId");
            }

            string name = fileName!.Substring(fileName.LastIndexOfAny(PathSeparators) + 1);
            if (name.Length == 0)
            {
                throw InvalidFileName($"The file name '{Printable.Of(fileName)}' ends with a path separator, so it names a folder, not a file.", fileName, "FileName");
            }

            return Check(name, $"The file name '{Printable.Of(fileName)}' cannot be used", "FileName");
        }

        /// <summary>The full path of <paramref name="name"/> in <paramref name="folder"/>, never anywhere else.</summary>
        public static string PathInFolder(string folder, string name)
        {
            string full = Path.GetFullPath(folder);
            string path = Path.GetFullPath(Path.Combine(full, name));
            string? parent = Path.GetDirectoryName(path);
            if (parent is null || !string.Equals(parent.TrimEnd(Path.DirectorySeparatorChar), full.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            {
                throw InvalidFileName($"The file name '{Printable.Of(name)}' would be saved outside '{full}'.", name, "FileName");
            }

            return path;
        }

        private string Check(string name, string problem, string givenAs)
        {
            if (name == "." || name == "..")
            {
                throw InvalidFileName($"{problem}: '{name}' is not a file name.", name, givenAs);
            }

            if (name.Trim().Length == 0)
            {
                throw InvalidFileName($"{problem}: it is empty or only white space.", name, givenAs);
            }

            if (name.Any(char.IsControl))
            {
                throw InvalidFileName($"{problem}: it contains a control character (such as a NUL or a line break).", name, givenAs);
            }

            int invalid = name.IndexOfAny(_invalidCharacters);
            if (invalid >= 0)
            {
                throw InvalidFileName($"{problem}: '{name[invalid]}' is not allowed in file names on this system.", name, givenAs);
            }

            int length = _windows ? name.Length : Encoding.UTF8.GetByteCount(name);
            if (length > MaximumFileNameLength)
            {
                throw InvalidFileName($"{problem}: it is {length} {(_windows ? "characters" : "bytes")} long; file names can have at most {MaximumFileNameLength}.", name, givenAs);
            }

            if (_windows)
            {
                if (name.EndsWith(".", StringComparison.Ordinal) || name.EndsWith(" ", StringComparison.Ordinal))
                {
                    throw InvalidFileName($"{problem}: Windows drops a trailing dot or space from file names.", name, givenAs);
                }

                string stem = name.Split('.')[0].TrimEnd(' ');
                if (WindowsDeviceNames.Contains(stem, StringComparer.OrdinalIgnoreCase))
                {
                    throw InvalidFileName($"{problem}: '{stem}' is a reserved device name on Windows.", name, givenAs);
                }
            }

            return name;
        }

        /// <summary><paramref name="givenAs"/> says where the name came from: FileName (given) or FileId (the id used as a name).</summary>
        private static KalInputException InvalidFileName(string message, string name, string givenAs) =>
            new KalInputException("InvalidFileName", message, givenAs, name);
    }
}
