using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Sandbox;

/// <summary>A file the sandbox can serve.</summary>
internal abstract class SandboxFile
{
    protected SandboxFile(string fileId, string fileName, string? activityId, IReadOnlyList<string>? recordIds)
    {
        FileId = fileId;
        FileName = fileName;
        ActivityId = activityId;
        RecordIds = recordIds;
    }

    public string FileId { get; }
    public string FileName { get; }
    public string? ActivityId { get; }
    public IReadOnlyList<string>? RecordIds { get; }

    /// <summary>Opens the content; the stream's Length is the length to announce.</summary>
    public abstract Stream OpenRead();

    public virtual bool IsGenerated => false;

    public virtual async Task<FileHash> ComputeHashAsync(CancellationToken ct)
    {
        await using Stream stream = OpenRead();
        long length = stream.Length;
        byte[] hash = await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false);
        return new FileHash(Convert.ToHexStringLower(hash), length);
    }
}

internal sealed class MemoryFile : SandboxFile
{
    private readonly byte[] _content;

    public MemoryFile(string fileId, string fileName, string? activityId, IReadOnlyList<string>? recordIds, byte[] content)
        : base(fileId, fileName, activityId, recordIds)
    {
        _content = content;
        Hash = new FileHash(Convert.ToHexStringLower(SHA256.HashData(content)), content.LongLength);
    }

    public FileHash Hash { get; }

    public override Stream OpenRead() => new MemoryStream(_content, writable: false);

    public override Task<FileHash> ComputeHashAsync(CancellationToken ct) => Task.FromResult(Hash);
}

internal sealed class GeneratedFile : SandboxFile
{
    public GeneratedFile(string fileId, string fileName, string? activityId, IReadOnlyList<string>? recordIds, int seed, long length, FileHash hash)
        : base(fileId, fileName, activityId, recordIds)
    {
        Seed = seed;
        Length = length;
        Hash = hash;
    }

    public int Seed { get; }
    public long Length { get; }
    public FileHash Hash { get; }
    public override bool IsGenerated => true;

    public override Stream OpenRead() => new GeneratedContentStream(Seed, Length);

    public override Task<FileHash> ComputeHashAsync(CancellationToken ct) => Task.FromResult(Hash);

    public static FileHash Hash256(int seed, long length)
    {
        using var stream = new GeneratedContentStream(seed, length);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[GeneratedContent.BlockSize];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            hash.AppendData(buffer, 0, read);
        }

        return new FileHash(Convert.ToHexStringLower(hash.GetHashAndReset()), length);
    }
}

internal sealed class DiskFile : SandboxFile
{
    private readonly string _path;

    public DiskFile(string fileId, string path)
        : base(fileId, fileId, activityId: null, recordIds: null)
    {
        _path = path;
    }

    public override Stream OpenRead() =>
        new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
}

/// <summary>Seeded files (in memory or generated) in front of an optional folder whose file names are file ids.</summary>
internal sealed class FileStore
{
    private const long MaxTextScanBytes = 256L * 1024 * 1024;

    private readonly object _gate = new();
    private readonly Dictionary<string, SandboxFile> _seeded = new(StringComparer.Ordinal);
    private readonly string? _directory;

    public FileStore(string? directory)
    {
        _directory = string.IsNullOrEmpty(directory) ? null : Path.GetFullPath(directory);
    }

    public SandboxFile? Find(string fileId)
    {
        lock (_gate)
        {
            if (_seeded.TryGetValue(fileId, out SandboxFile? seeded))
            {
                return seeded;
            }
        }

        return FindOnDisk(fileId);
    }

    public void Clear()
    {
        lock (_gate)
        {
            _seeded.Clear();
        }
    }

    public IReadOnlyList<string> SeededIds()
    {
        lock (_gate)
        {
            return new List<string>(_seeded.Keys);
        }
    }

    public SeededFileInfo Seed(SeedFileRequest request)
    {
        if (string.IsNullOrEmpty(request.FileId))
        {
            throw new SandboxException(400, "bad_request", "file_id is required");
        }

        int sources = (request.Content is null ? 0 : 1) + (request.ContentBase64 is null ? 0 : 1) + (request.GeneratedSize is null ? 0 : 1);
        if (sources != 1)
        {
            throw new SandboxException(400, "bad_request", "give exactly one of content, content_base64 or generated_size");
        }

        string fileName = string.IsNullOrEmpty(request.FileName) ? request.FileId : request.FileName;
        IReadOnlyList<string>? recordIds = request.RecordIds is null ? null : new List<string>(request.RecordIds);
        SandboxFile file;
        FileHash hash;
        if (request.GeneratedSize is long size)
        {
            if (size < 0)
            {
                throw new SandboxException(400, "bad_request", "generated_size must not be negative");
            }

            int seed = request.Seed ?? 0;
            hash = GeneratedFile.Hash256(seed, size);
            file = new GeneratedFile(request.FileId, fileName, request.ActivityId, recordIds, seed, size, hash);
        }
        else
        {
            byte[] bytes;
            if (request.Content is not null)
            {
                bytes = Encoding.UTF8.GetBytes(request.Content);
            }
            else
            {
                try
                {
                    bytes = Convert.FromBase64String(request.ContentBase64!);
                }
                catch (FormatException)
                {
                    throw new SandboxException(400, "bad_request", "content_base64 is not valid base64");
                }
            }

            var memoryFile = new MemoryFile(request.FileId, fileName, request.ActivityId, recordIds, bytes);
            hash = memoryFile.Hash;
            file = memoryFile;
        }

        lock (_gate)
        {
            _seeded[request.FileId] = file;
        }

        return new SeededFileInfo(request.FileId, hash.Length, hash.Sha256);
    }

    /// <summary>
    /// The record ids a webhook announces: the seeded ones, else one per non-empty data row of a text file
    /// with a header row (<c>{file_id}:row-{n}</c>, n counting those rows from 1), else none.
    /// </summary>
    public static IReadOnlyList<string> RecordIdsFor(SandboxFile file)
    {
        if (file.RecordIds is not null)
        {
            return file.RecordIds;
        }

        var ids = new List<string>();
        if (file.IsGenerated)
        {
            return ids;
        }

        string text;
        try
        {
            using Stream stream = file.OpenRead();
            if (stream.Length > MaxTextScanBytes)
            {
                return ids;
            }

            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            if (Array.IndexOf(bytes, (byte)0) >= 0)
            {
                return ids;
            }

            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            return ids;
        }

        bool header = true;
        int row = 0;
        foreach (string line in text.Split('\n'))
        {
            if (line.Trim().Length == 0)
            {
                continue;
            }

            if (header)
            {
                header = false;
                continue;
            }

            row++;
            ids.Add($"{file.FileId}:row-{row}");
        }

        return ids;
    }

    private DiskFile? FindOnDisk(string fileId)
    {
        if (_directory is null || fileId.Length == 0 || fileId == "." || fileId == ".."
            || fileId.IndexOfAny(['/', '\\', '\0']) >= 0)
        {
            return null;
        }

        string path = Path.Combine(_directory, fileId);
        if (!string.Equals(Path.GetDirectoryName(path), _directory.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal)
            || !File.Exists(path))
        {
            return null;
        }

        return new DiskFile(fileId, path);
    }
}
