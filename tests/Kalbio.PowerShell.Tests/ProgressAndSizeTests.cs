using System;
using System.Linq;
using System.Reflection;
using Kalbio.PowerShell.Commands;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>What the cmdlets' progress bars and messages are drawn with.</summary>
    public sealed class ProgressAndSizeTests
    {
        [Fact]
        public void Every_cmdlet_that_shows_progress_has_an_activity_id_of_its_own()
        {
            var ids = typeof(KalCmdlet).Assembly.GetTypes()
                .Where(type => typeof(KalCmdlet).IsAssignableFrom(type))
                .Select(type => (Type: type, Field: type.GetField("ProgressActivityId", BindingFlags.NonPublic | BindingFlags.Static)))
                .Where(pair => pair.Field != null)
                .Select(pair => (pair.Type.Name, Id: (int)pair.Field!.GetValue(null)!))
                .ToList();

            Assert.Contains(ids, id => id.Name == nameof(GetKalFileCommand));
            Assert.Contains(ids, id => id.Name == nameof(SubmitKalRegistrationResultCommand));
            Assert.Contains(ids, id => id.Name == nameof(InvokeKalApiRequestCommand));
            Assert.Equal(ids.Count, ids.Select(id => id.Id).Distinct().Count());
            Assert.All(ids, id => Assert.True(Enum.IsDefined(typeof(ProgressActivity), id.Id), $"{id.Name} takes its id from {nameof(ProgressActivity)}."));
        }

        [Theory]
        [InlineData(0L, "0 bytes")]
        [InlineData(143L, "143 bytes")]
        [InlineData(1023L, "1023 bytes")]
        [InlineData(1024L, "1.0 KB")]
        [InlineData(1536L, "1.5 KB")]
        [InlineData(4L * 1024 * 1024, "4.0 MB")]
        [InlineData(5L * 1024 * 1024 * 1024 / 2, "2.5 GB")]
        [InlineData(3L * 1024 * 1024 * 1024 * 1024 * 1024, "3072.0 TB")]
        public void Byte_counts_read_the_same_in_progress_verbose_and_WhatIf(long bytes, string shown) =>
            Assert.Equal(shown, ByteSize.Format(bytes));
    }
}
