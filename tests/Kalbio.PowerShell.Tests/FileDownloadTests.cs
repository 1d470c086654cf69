using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core;
using Kalbio.Core.Api;
using Kalbio.PowerShell.Client;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The atomic streaming download (FileDownload via FilesApi) against a real sandbox.</summary>
    public sealed class FileDownloadTests : IClassFixture<SandboxFixture>, IDisposable
    {
        private const int FileLength = 3 * 1024 * 1024;

        private readonly SandboxFixture _sandbox;
        private readonly string _folder;
        private readonly string _expectedSha256;

        public FileDownloadTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
            _expectedSha256 = _sandbox.State.SeedFile(new SeedFileRequest { FileId = "data", GeneratedSize = FileLength, Seed = 7 }).Sha256;
            _folder = Path.Combine(Path.GetTempPath(), "kal-download-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(_folder);
        }

        public void Dispose() => Directory.Delete(_folder, recursive: true);

        private string Target => Path.Combine(_folder, "data.bin");

        private async Task<KalConnection> Connected()
        {
            KalConnection connection = TestConnections.To(_sandbox);
            await connection.ConnectAsync(NullKalLog.Instance, CancellationToken.None);
            return connection;
        }

        private static Task<FileInfo> Download(KalConnection connection, string path, bool noClobber = false, Action<DownloadProgress>? progress = null, IKalLog? log = null, CancellationToken cancellation = default) =>
            connection.Client.DownloadFileAsync(connection.Client.PlanDownload("data", null, null, Path.GetDirectoryName(path)!, Path.GetFileName(path)), noClobber, progress, log ?? NullKalLog.Instance, cancellation);

        private static string Sha256(string path)
        {
            using FileStream stream = File.OpenRead(path);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }

        private string[] FolderEntries() => Directory.GetFileSystemEntries(_folder).Select(Path.GetFileName).OrderBy(n => n).ToArray()!;

        [Fact]
        public async Task A_download_is_byte_identical_and_reports_progress_up_to_the_announced_length()
        {
            using KalConnection connection = await Connected();
            var reports = new System.Collections.Concurrent.ConcurrentQueue<DownloadProgress>();

            FileInfo file = await Download(connection, Target, progress: reports.Enqueue);

            Assert.Equal(Target, file.FullName);
            Assert.Equal(FileLength, file.Length);
            Assert.Equal(_expectedSha256, Sha256(Target));
            Assert.Equal(new[] { "data.bin" }, FolderEntries());
            Assert.All(reports, r => Assert.Equal(FileLength, r.TotalBytes));
            Assert.Equal(0, reports.First().BytesReceived);
            Assert.Equal(FileLength, reports.Last().BytesReceived);
            Assert.Equal(100, reports.Last().PercentComplete);
        }

        [Fact]
        public async Task A_body_cut_short_is_fetched_again_from_the_first_byte_and_saved_whole()
        {
            using KalConnection connection = await Connected();
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/data", DropAfterBytes = FileLength / 2 });
            var log = new RecordingLog();

            await Download(connection, Target, log: log);

            Assert.Equal(_expectedSha256, Sha256(Target));
            Assert.Equal(new[] { "data.bin" }, FolderEntries());
            // The client can finish reading before the server has logged its answer.
            SpinWait.SpinUntil(() => _sandbox.ApiRequests()[^1].Status != 0, TimeSpan.FromSeconds(10));
            Assert.Equal(new[] { 0, 200 }, _sandbox.ApiRequests().Select(r => r.Status));
            Assert.Contains("retry 1 of 3", log.All);
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public async Task A_body_cut_short_on_every_attempt_is_an_error_that_leaves_the_folder_as_it_was(bool priorFile)
        {
            using KalConnection connection = await Connected();
            if (priorFile)
            {
                File.WriteAllText(Target, "the previous version");
            }

            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/data", DropAfterBytes = 1000, Times = 4 });

            var failure = await Assert.ThrowsAsync<KalApiException>(() => Download(connection, Target));

            Assert.Equal(KalErrorKind.Network, failure.Kind);
            Assert.Equal(4, failure.Attempts);
            Assert.Equal(4, _sandbox.ApiRequests().Count);
            if (priorFile)
            {
                Assert.Equal(new[] { "data.bin" }, FolderEntries());
                Assert.Equal("the previous version", File.ReadAllText(Target));
            }
            else
            {
                Assert.Empty(FolderEntries());
            }
        }

        [Fact]
        public async Task An_existing_file_is_replaced_when_clobbering_is_allowed()
        {
            using KalConnection connection = await Connected();
            File.WriteAllText(Target, "the previous version");

            await Download(connection, Target);

            Assert.Equal(_expectedSha256, Sha256(Target));
            Assert.Equal(new[] { "data.bin" }, FolderEntries());
        }

        [Fact]
        public async Task NoClobber_refuses_an_existing_file_before_sending_anything()
        {
            using KalConnection connection = await Connected();
            File.WriteAllText(Target, "keep me");

            var failure = await Assert.ThrowsAsync<DestinationExistsException>(() => Download(connection, Target, noClobber: true));

            Assert.Equal(Target, failure.Path);
            Assert.Equal("keep me", File.ReadAllText(Target));
            Assert.Empty(_sandbox.ApiRequests());
        }

        [Fact]
        public async Task NoClobber_still_refuses_a_file_that_appears_while_the_download_runs()
        {
            using KalConnection connection = await Connected();
            bool created = false;
            void CreateRival(DownloadProgress progress)
            {
                if (!created)
                {
                    created = true;
                    File.WriteAllText(Target, "written by someone else");
                }
            }

            await Assert.ThrowsAsync<DestinationExistsException>(() => Download(connection, Target, noClobber: true, progress: CreateRival));

            Assert.Equal("written by someone else", File.ReadAllText(Target));
            Assert.Equal(new[] { "data.bin" }, FolderEntries());
        }

        [Fact]
        public async Task Cancelling_mid_body_deletes_the_temporary_file_and_keeps_the_existing_one()
        {
            using KalConnection connection = await Connected();
            File.WriteAllText(Target, "the previous version");
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/data", StallAfterBytes = FileLength / 3 });
            using var cancellation = new CancellationTokenSource();

            Task<FileInfo> download = Download(connection, Target, cancellation: cancellation.Token);
            Assert.True(SpinWait.SpinUntil(() => new DirectoryInfo(_folder).GetFiles(".kal-*.tmp").Any(f => f.Length > 0), TimeSpan.FromSeconds(30)), "The download never started writing.");
            cancellation.Cancel();

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => download);
            Assert.Equal(new[] { "data.bin" }, FolderEntries());
            Assert.Equal("the previous version", File.ReadAllText(Target));
        }

        [Fact]
        public async Task A_folder_in_the_way_is_refused_before_sending_anything()
        {
            using KalConnection connection = await Connected();
            Directory.CreateDirectory(Target);

            var failure = await Assert.ThrowsAsync<KalInputException>(() => Download(connection, Target));

            Assert.Equal("DestinationIsFolder", failure.ErrorId);
            Assert.Contains("a folder of that name is there", failure.Message);
            Assert.Empty(_sandbox.ApiRequests());
        }
    }
}
