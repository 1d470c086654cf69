using System;
using System.Collections.Generic;
using System.IO;
using System.Threading.Tasks;
using Kalbio.Core.Api;
using Kalbio.Core.Json;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The duplicate-id check that runs on its own thread while a results file is read.</summary>
    public sealed class DuplicateIdCheckTests
    {
        [Theory]
        [InlineData(0)]
        [InlineData(4096)]
        [InlineData(4097)]
        [InlineData(20_000)]
        public void Every_posted_id_is_checked_whole_batches_or_not_and_Finish_can_be_asked_again(int count)
        {
            var set = new RecordIdSet();
            using var check = new DuplicateIdCheck(set);
            for (int i = 0; i < count; i++)
            {
                check.Post("r" + i, i, i + 2);
            }

            check.Post("r0", count, count + 2);
            IReadOnlyList<Duplicate> duplicates = check.Finish();
            Assert.True(check.IsStopped);
            Assert.Equal(count == 0 ? 0 : 1, duplicates.Count);
            Assert.Equal(Math.Max(count, 1), set.Count);
            if (count > 0)
            {
                Assert.Equal(("r0", count, 0, count + 2), (duplicates[0].Id, duplicates[0].Position, duplicates[0].FirstPosition, duplicates[0].Line));
            }

            Assert.Same(duplicates, check.Finish());
        }

        [Fact]
        public void A_failing_check_is_reported_by_Finish_and_never_blocks_the_reader()
        {
            int calls = 0;
            using var check = new DuplicateIdCheck((id, position) => ++calls == 10 ? throw new InvalidDataException("test") : -1);

            // Far more batches than the queue holds: after the failure the thread must still take them off it.
            Task posting = Task.Run(() =>
            {
                for (int i = 0; i < 200_000; i++)
                {
                    check.Post("r" + i, i, 0);
                }
            });
            Assert.True(posting.Wait(TimeSpan.FromSeconds(60)), "The reader waited on a check that had failed.");
            var failed = Assert.Throws<InvalidOperationException>(() => check.Finish());
            Assert.IsType<InvalidDataException>(failed.InnerException);
            Assert.Equal(10, calls);
        }

        [Fact]
        public void Dispose_ends_the_thread_and_can_be_called_twice()
        {
            var check = new DuplicateIdCheck(new RecordIdSet());
            for (int i = 0; i < 50_000; i++)
            {
                check.Post("r" + i, i, 0);
            }

            Assert.False(check.IsStopped);
            check.Dispose();
            Assert.True(check.IsStopped);
            check.Dispose();
        }

        [Fact]
        public void A_builder_asked_twice_to_defer_keeps_one_check_and_stops_it_when_disposed()
        {
            var builder = new ResultsPayloadBuilder("success", null, null, null, new JsonValueWriter());
            builder.DeferDuplicateCheck();
            DuplicateIdCheck? check = builder.DeferredCheck;
            builder.Add("r1", "matched", null, null, line: 2);
            builder.DeferDuplicateCheck();
            Assert.Same(check, builder.DeferredCheck);
            builder.Add("r1", "matched", null, null, line: 3);
            var problems = builder.TakeDeferredProblems();
            Assert.Equal(3, Assert.Single(problems).Line);

            var another = new ResultsPayloadBuilder("success", null, null, null, new JsonValueWriter());
            another.DeferDuplicateCheck();
            another.Add("r1", "matched", null, null);
            another.Dispose();
            Assert.True(another.DeferredCheck!.IsStopped);
            builder.Dispose();
        }
    }
}
