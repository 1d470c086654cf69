using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using Kalbio.Sandbox;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>Get-KalFile in a hosted runspace: Ctrl+C (Stop) mid-download, and progress reporting.</summary>
    public sealed class GetKalFileCmdletTests : IClassFixture<SandboxFixture>, IDisposable
    {
        private const int FileLength = 4 * 1024 * 1024;

        private readonly SandboxFixture _sandbox;
        private readonly string _folder;
        private readonly HostedPowerShell _shell = new HostedPowerShell();

        public GetKalFileCmdletTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
            _sandbox.State.SeedFile(new SeedFileRequest { FileId = "big", GeneratedSize = FileLength });
            _folder = Path.Combine(Path.GetTempPath(), "kal-cmdlet-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(_folder);
            var (_, errors) = _shell.Invoke(
                "Connect-KalApi -ClientId $id -ClientSecret (ConvertTo-SecureString $secret -AsPlainText -Force) -BaseUri $uri -ErrorAction Stop",
                new Dictionary<string, object?> { ["id"] = SandboxOptions.DefaultClientId, ["secret"] = SandboxOptions.DefaultClientSecret, ["uri"] = _sandbox.BaseUri.ToString() });
            Assert.Empty(errors);
        }

        public void Dispose()
        {
            _shell.Dispose();
            Directory.Delete(_folder, recursive: true);
        }

        private string[] FolderEntries() => Directory.GetFileSystemEntries(_folder).Select(Path.GetFileName).ToArray()!;

        [Fact]
        public void Stop_during_a_download_ends_the_pipeline_removes_the_temporary_file_and_keeps_the_existing_one()
        {
            string target = Path.Combine(_folder, "big");
            File.WriteAllText(target, "the previous version");
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/big", StallAfterBytes = FileLength / 2 });
            using System.Management.Automation.PowerShell shell = System.Management.Automation.PowerShell.Create();
            shell.Runspace = _shell.Runspace;
            shell.AddCommand("Get-KalFile").AddParameter("FileId", "big").AddParameter("Destination", _folder);

            IAsyncResult running = shell.BeginInvoke();
            Assert.True(SpinWait.SpinUntil(() => TemporaryFiles().Any(f => f.Length > 0), TimeSpan.FromSeconds(30)), "The download never started writing.");
            shell.Stop();

            Assert.True(running.IsCompleted);
            Assert.Equal(PSInvocationState.Stopped, shell.InvocationStateInfo.State);
            Assert.Empty(TemporaryFiles());
            Assert.Equal(new[] { "big" }, FolderEntries());
            Assert.Equal("the previous version", File.ReadAllText(target));
        }

        [Fact]
        public void A_download_longer_than_a_second_shows_bytes_and_percent_and_ends_with_a_completed_record()
        {
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/big", BytesPerSecond = FileLength / 2 });
            using System.Management.Automation.PowerShell shell = System.Management.Automation.PowerShell.Create();
            shell.Runspace = _shell.Runspace;
            shell.AddCommand("Get-KalFile").AddParameter("FileId", "big").AddParameter("Destination", _folder);

            shell.Invoke();

            Assert.Empty(shell.Streams.Error);
            List<ProgressRecord> records = shell.Streams.Progress.ToList();
            Assert.All(records, r => Assert.Equal("Downloading big", r.Activity));
            ProgressRecord shown = records.First();
            Assert.Equal(ProgressRecordType.Processing, shown.RecordType);
            Assert.Matches(@"^\d+\.\d [KM]B of 4\.0 MB \(\d+\.\d [KM]B/s\)$", shown.StatusDescription);
            Assert.InRange(shown.PercentComplete, 1, 100);
            Assert.Equal(ProgressRecordType.Completed, records.Last().RecordType);
            Assert.Single(records, r => r.RecordType == ProgressRecordType.Completed);
        }

        [Theory]
        [InlineData("$ProgressPreference = 'SilentlyContinue'; Get-KalFile big -Destination $folder")]
        [InlineData("Get-KalFile big -Destination $folder -ProgressAction SilentlyContinue")]
        public void Nothing_is_reported_when_progress_is_silenced(string script)
        {
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/big", BytesPerSecond = FileLength / 2 });
            using System.Management.Automation.PowerShell shell = System.Management.Automation.PowerShell.Create();
            shell.Runspace = _shell.Runspace;
            shell.AddScript(script);
            _shell.Runspace.SessionStateProxy.SetVariable("folder", _folder);

            var output = shell.Invoke();

            Assert.Empty(shell.Streams.Error);
            Assert.Equal(FileLength, ((FileInfo)output.Single().BaseObject).Length);
            Assert.Empty(shell.Streams.Progress);
        }

        private FileInfo[] TemporaryFiles() => new DirectoryInfo(_folder).GetFiles(".kal-*.tmp");
    }
}
