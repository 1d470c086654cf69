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
    /// <summary>Ctrl+C (PowerShell.Stop) in the middle of work, and what the connection is fit for afterwards.</summary>
    public sealed class CancellationTests : IClassFixture<SandboxFixture>, IDisposable
    {
        private const int FileLength = 4 * 1024 * 1024;

        private readonly SandboxFixture _sandbox;
        private readonly string _folder;
        private readonly HostedPowerShell _shell = new HostedPowerShell();
        private readonly string _sha256;

        public CancellationTests(SandboxFixture sandbox)
        {
            _sandbox = sandbox;
            _sandbox.State.Reset();
            _sha256 = _sandbox.State.SeedFile(new SeedFileRequest { FileId = "big", GeneratedSize = FileLength, Seed = 3 }).Sha256;
            _folder = Path.Combine(Path.GetTempPath(), "kal-cancel-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(_folder);
            var (_, errors) = _shell.Invoke(
                "Connect-KalApi -ClientId $id -ClientSecret (ConvertTo-SecureString $secret -AsPlainText -Force) -BaseUri $uri -RetryIntervalSec 0 -ErrorAction Stop",
                new Dictionary<string, object?> { ["id"] = SandboxOptions.DefaultClientId, ["secret"] = SandboxOptions.DefaultClientSecret, ["uri"] = _sandbox.BaseUri.ToString() });
            Assert.Empty(errors);
        }

        public void Dispose()
        {
            _shell.Dispose();
            Directory.Delete(_folder, recursive: true);
        }

        [Fact]
        public void After_Stop_during_a_download_the_same_connection_downloads_the_file_whole_without_a_new_grant()
        {
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/big", StallAfterBytes = FileLength / 2 });
            using (System.Management.Automation.PowerShell first = System.Management.Automation.PowerShell.Create())
            {
                first.Runspace = _shell.Runspace;
                first.AddCommand("Get-KalFile").AddParameter("FileId", "big").AddParameter("Destination", _folder);
                IAsyncResult running = first.BeginInvoke();
                Assert.True(SpinWait.SpinUntil(() => TemporaryFiles().Any(f => f.Length > 0), TimeSpan.FromSeconds(30)), "The download never started writing.");

                first.Stop();

                Assert.True(running.IsCompleted);
                Assert.Equal(PSInvocationState.Stopped, first.InvocationStateInfo.State);
            }

            Assert.Empty(Directory.GetFileSystemEntries(_folder));

            var (output, errors) = _shell.Invoke("Get-KalFile big -Destination $folder", new Dictionary<string, object?> { ["folder"] = _folder });

            Assert.Empty(errors);
            var file = (FileInfo)output.Single().BaseObject;
            Assert.Equal(FileLength, file.Length);
            Assert.Equal(_sha256, Sha256(file.FullName));
            Assert.Equal(new[] { "big" }, Directory.GetFileSystemEntries(_folder).Select(Path.GetFileName));
            GrantStats grants = _sandbox.State.GetGrants();
            Assert.Equal(1, grants.ClientCredentials);
            Assert.Equal(0, grants.RefreshToken);
            Assert.Equal(0, grants.Failed);
        }

        [Fact]
        public void Stop_during_a_Retry_After_wait_ends_the_wait_and_the_connection_still_works()
        {
            _sandbox.State.SeedFile(new SeedFileRequest { FileId = "small", Content = "a,b\n" });
            _sandbox.State.AddFault(new FaultSpec { PathPrefix = "/files/small", Status = 503, RetryAfter = "600" });
            using (System.Management.Automation.PowerShell first = System.Management.Automation.PowerShell.Create())
            {
                first.Runspace = _shell.Runspace;
                first.AddCommand("Get-KalFile").AddParameter("FileId", "small").AddParameter("Destination", _folder);
                IAsyncResult running = first.BeginInvoke();
                Assert.True(SpinWait.SpinUntil(() => _sandbox.ApiRequests().Any(r => r.Status == 503), TimeSpan.FromSeconds(30)), "The 503 never came.");

                var stopping = System.Diagnostics.Stopwatch.StartNew();
                first.Stop();
                stopping.Stop();

                Assert.True(running.IsCompleted);
                // Not a speed measurement: a wait that ignored Ctrl+C would hold Stop() for the whole capped wait (60 s).
                Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(30), $"Stop() took {stopping.Elapsed.TotalSeconds:0.0} s: the Retry-After wait did not end on Ctrl+C.");
                Assert.Equal(PSInvocationState.Stopped, first.InvocationStateInfo.State);
            }

            Assert.Single(_sandbox.ApiRequests());
            var (output, errors) = _shell.Invoke("Get-KalFile small -Destination $folder", new Dictionary<string, object?> { ["folder"] = _folder });
            Assert.Empty(errors);
            Assert.Equal("a,b\n", File.ReadAllText(((FileInfo)output.Single().BaseObject).FullName));
        }

        [Fact]
        public void Stop_while_records_stream_in_sends_nothing_and_the_connection_then_submits()
        {
            _sandbox.State.CreateRegistration("op1", "big");
            using var streaming = new ManualResetEventSlim();
            _shell.Runspace.SessionStateProxy.SetVariable("streaming", streaming);
            using (System.Management.Automation.PowerShell first = System.Management.Automation.PowerShell.Create())
            {
                first.Runspace = _shell.Runspace;
                first.AddScript("& { foreach ($i in 0..100000000) { if ($i -eq 10000) { $streaming.Set() }; [Kalbio.PowerShell.Model.KalRecordResult]::new(\"r$i\", 'matched') } } | Submit-KalRegistrationResult op1 big");
                IAsyncResult running = first.BeginInvoke();
                Assert.True(streaming.Wait(TimeSpan.FromSeconds(60)), "The records never started streaming.");

                first.Stop();

                Assert.True(running.IsCompleted);
                Assert.Equal(PSInvocationState.Stopped, first.InvocationStateInfo.State);
            }

            Assert.DoesNotContain(_sandbox.State.GetRequests(), r => r.Path.EndsWith("/results", StringComparison.Ordinal));
            Assert.Empty(_sandbox.State.GetSubmissions());

            var (_, errors) = _shell.Invoke("New-KalRecordResult r1 matched | Submit-KalRegistrationResult op1 big");

            Assert.Empty(errors);
            Assert.Equal(1, Assert.Single(_sandbox.State.GetSubmissions()).RecordCount);
            Assert.Equal(1, _sandbox.State.GetGrants().ClientCredentials);
        }

        [Fact]
        public void Stop_while_a_large_body_is_uploading_leaves_no_submission_and_the_connection_then_submits()
        {
            _sandbox.State.CreateRegistration("op1", "big");
            // The server takes the headers and then reads nothing, so the 300,000-record body (about 12 MB) is still in flight.
            _sandbox.State.AddFault(new FaultSpec { Method = "POST", PathPrefix = "/operations/op1/register/big/results", DelayMs = 120_000 });
            using (System.Management.Automation.PowerShell first = System.Management.Automation.PowerShell.Create())
            {
                first.Runspace = _shell.Runspace;
                first.AddScript("& { foreach ($i in 0..299999) { [Kalbio.PowerShell.Model.KalRecordResult]::new(\"r$i\", 'matched') } } | Submit-KalRegistrationResult op1 big -ProgressAction SilentlyContinue");
                IAsyncResult running = first.BeginInvoke();
                Assert.True(SpinWait.SpinUntil(() => ResultsRequests().Any(), TimeSpan.FromSeconds(60)), "The submission never reached the server.");

                first.Stop();

                Assert.True(running.IsCompleted);
                Assert.Equal(PSInvocationState.Stopped, first.InvocationStateInfo.State);
            }

            Assert.True(SpinWait.SpinUntil(() => ResultsRequests().Single().Status == 0, TimeSpan.FromSeconds(30)), "The server never saw the request end.");
            Assert.Empty(_sandbox.State.GetSubmissions());
            Assert.Equal("pending", _sandbox.State.GetAllRegistrations().Single().Status);

            var (_, errors) = _shell.Invoke("'r1', 'r2' | New-KalRecordResult -Status matched | Submit-KalRegistrationResult op1 big");

            Assert.Empty(errors);
            Assert.Equal(2, Assert.Single(_sandbox.State.GetSubmissions()).RecordCount);
            Assert.Equal(new[] { 0, 204 }, ResultsRequests().Select(r => r.Status));
            Assert.Equal(1, _sandbox.State.GetGrants().ClientCredentials);
        }

        private IEnumerable<RequestLogEntry> ResultsRequests() =>
            _sandbox.State.GetRequests().Where(r => r.Path == "/operations/op1/register/big/results");

        private FileInfo[] TemporaryFiles() => new DirectoryInfo(_folder).GetFiles(".kal-*.tmp");

        private static string Sha256(string path)
        {
            using FileStream stream = File.OpenRead(path);
            return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
        }
    }
}
