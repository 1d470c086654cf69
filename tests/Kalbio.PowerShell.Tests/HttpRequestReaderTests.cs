using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kalbio.Core.Webhooks;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The webhook listener's request reader fed bytes directly: each rule of the hostile-request table stated on its
    /// own, with the message that says which rule refused the request (several rules give the same status).
    /// </summary>
    public sealed class HttpRequestReaderTests
    {
        private const string Head = "POST /hooks HTTP/1.1\r\nHost: listener\r\n";

        [Fact]
        public async Task Reads_the_request_line_and_the_headers_with_their_values_trimmed()
        {
            HttpRequestHead head = await HeadAsync("POST /hooks?x=1 HTTP/1.1\r\nHost: listener\r\nX-Note: \t a b \t\r\nX-Empty:\r\n\r\n");

            Assert.Equal("POST", head.Method);
            Assert.Equal("/hooks?x=1", head.Target);
            Assert.Equal("HTTP/1.1", head.Version);
            Assert.Equal(new[] { "Host=listener", "X-Note=a b", "X-Empty=" }, head.Headers.Select(h => h.Key + "=" + h.Value));
            Assert.Equal(new[] { "a b" }, head.Values("x-note"));
        }

        [Theory]
        [InlineData("/hooks", "/hooks")]
        [InlineData("/hooks?x=1", "/hooks")]
        [InlineData("/hooks#frag", "/hooks")]
        [InlineData("/a%20b/c?x", "/a b/c")]
        [InlineData("?x=1", "")]
        [InlineData("*", "*")]
        [InlineData("http://listener/hooks?x=1", "/hooks")]
        [InlineData("https://listener:8443/a%20b", "/a b")]
        [InlineData("ftp://listener/hooks", "ftp://listener/hooks")]
        public void The_path_is_the_target_s_path_decoded_without_query_also_in_absolute_form(string target, string expected) =>
            Assert.Equal(expected, new HttpRequestHead("POST", target, "HTTP/1.1", new List<KeyValuePair<string, string>>()).Path);

        [Fact]
        public async Task A_peer_that_closes_before_sending_anything_or_after_only_empty_lines_sent_no_request()
        {
            Assert.Null(await Reader(string.Empty).ReadHeadAsync(CancellationToken.None));
            Assert.Null(await Reader("\r\n\r\n").ReadHeadAsync(CancellationToken.None));
        }

        [Fact]
        public async Task Empty_lines_before_the_request_line_are_skipped()
        {
            HttpRequestHead head = await HeadAsync("\r\n\r\n" + Head + "\r\n");

            Assert.Equal("/hooks", head.Target);
        }

        [Theory]
        [InlineData("POST /hooks HTTP/1.1\r\nHost: listener\r\n")]
        [InlineData("POST /hooks HTTP/1.1\r\nHost: listener")]
        [InlineData("POST /hooks HTTP/1.1\r\n")]
        [InlineData("POST /hooks HTTP/1.1")]
        public async Task A_head_cut_off_before_its_empty_line_is_refused_as_closed_in_the_middle(string text)
        {
            HttpRefusal refusal = await RefusedHeadAsync(text);

            Assert.Equal(400, refusal.Status);
            Assert.Equal("The connection closed in the middle of the request.", refusal.Message);
        }

        [Theory]
        [InlineData("ACL / HTTP/1.1\r\nHost: x\r\n\r\n", "ACL")]
        [InlineData("ZAP / HTTP/1.1\r\nHost: x\r\n\r\n", "ZAP")]
        public async Task Any_method_starting_with_a_capital_letter_A_to_Z_is_read_the_listener_decides_what_it_allows(string text, string method) =>
            Assert.Equal(method, (await HeadAsync(text)).Method);

        [Theory]
        [InlineData("@POST / HTTP/1.1\r\n\r\n")]
        [InlineData("[POST / HTTP/1.1\r\n\r\n")]
        [InlineData("post / HTTP/1.1\r\n\r\n")]
        [InlineData("\n")]
        public async Task A_first_byte_that_cannot_begin_a_request_is_refused_at_once(string text)
        {
            HttpRefusal refusal = await RefusedHeadAsync(text);

            Assert.Equal(400, refusal.Status);
            Assert.Equal("This is not an HTTP request.", refusal.Message);
        }

        [Fact]
        public async Task A_TLS_handshake_is_refused_with_advice_to_use_http_or_a_certificate()
        {
            var reader = new HttpRequestReader(new MemoryStream(new byte[] { 0x16, 0x03, 0x01, 0x00, 0xA5, 0x01 }));

            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => reader.ReadHeadAsync(CancellationToken.None));

            Assert.Equal(400, refusal.Status);
            Assert.StartsWith("A TLS handshake arrived at a listener that speaks plain HTTP", refusal.Message);
        }

        [Theory]
        [InlineData("POST /a\u007Fb HTTP/1.1\r\nHost: x\r\n\r\n")]
        [InlineData("POST /a\u00E9 HTTP/1.1\r\nHost: x\r\n\r\n")]
        [InlineData("POST /a\tb HTTP/1.1\r\nHost: x\r\n\r\n")]
        [InlineData("POST /a\u001Fb HTTP/1.1\r\nHost: x\r\n\r\n")]
        public async Task A_control_character_DEL_or_a_byte_above_ASCII_in_the_request_line_is_refused(string text)
        {
            HttpRefusal refusal = await RefusedHeadAsync(text);

            Assert.Equal(400, refusal.Status);
            Assert.Equal("The request line has a character that is not allowed there.", refusal.Message);
        }

        [Fact]
        public async Task The_highest_printable_ASCII_character_is_allowed_in_the_request_line() =>
            Assert.Equal("/a~b", (await HeadAsync("POST /a~b HTTP/1.1\r\nHost: x\r\n\r\n")).Target);

        [Theory]
        [InlineData(" folded")]
        [InlineData("\tfolded")]
        [InlineData(" X-Other: 1")]
        public async Task A_folded_header_line_is_refused_as_obsolete_line_folding(string continuation)
        {
            HttpRefusal refusal = await RefusedHeadAsync(Head + "X-Note: a\r\n" + continuation + "\r\n\r\n");

            Assert.Equal(400, refusal.Status);
            Assert.Equal("A header line is folded onto the next line (obsolete line folding).", refusal.Message);
        }

        [Theory]
        [InlineData(": no name")]
        [InlineData("no colon")]
        [InlineData("X\"Q: 1")]
        [InlineData("X(Q: 1")]
        [InlineData("X/Q: 1")]
        [InlineData("X@Q: 1")]
        [InlineData("X}Q: 1")]
        [InlineData("X\u007FQ: 1")]
        [InlineData("X\u00E9Q: 1")]
        [InlineData("\"Q: 1")]
        [InlineData("X Q: 1")]
        [InlineData("X-Q : 1")]
        public async Task A_header_without_a_name_or_with_a_separator_space_DEL_or_non_ASCII_in_its_name_is_refused(string line)
        {
            HttpRefusal refusal = await RefusedHeadAsync(Head + line + "\r\n\r\n");

            Assert.Equal(400, refusal.Status);
            Assert.Equal("A header line is malformed.", refusal.Message);
        }

        [Fact]
        public async Task A_header_name_may_hold_every_token_character() =>
            Assert.Equal("1", (await HeadAsync(Head + "!#$%&'*+-.^_`|~09AZaz: 1\r\n\r\n")).Values("!#$%&'*+-.^_`|~09azAZ").Single());

        [Fact]
        public async Task An_HTTP_1_1_request_without_Host_is_refused_naming_the_missing_header()
        {
            HttpRefusal refusal = await RefusedHeadAsync("POST /hooks HTTP/1.1\r\nX-Note: a\r\n\r\n");

            Assert.Equal(400, refusal.Status);
            Assert.Equal("An HTTP/1.1 request must have a Host header.", refusal.Message);
        }

        [Theory]
        [InlineData("HTTP/1.1")]
        [InlineData("HTTP/1.0")]
        public async Task Two_Host_headers_are_refused_in_either_version(string version)
        {
            HttpRefusal refusal = await RefusedHeadAsync($"POST /hooks {version}\r\nHost: a\r\nhost: b\r\n\r\n");

            Assert.Equal(400, refusal.Status);
            Assert.Equal("The request has more than one Host header.", refusal.Message);
        }

        [Fact]
        public async Task An_HTTP_1_0_request_needs_no_Host_header()
        {
            HttpRequestHead head = await HeadAsync("POST /hooks HTTP/1.0\r\n\r\n");

            Assert.Equal("HTTP/1.0", head.Version);
            Assert.Empty(head.Headers);
        }

        [Theory]
        [InlineData("X-Note: a\rb", "The request has a bare CR in its head.")]
        [InlineData("X-Note: a\0b", "The request has a NUL byte in its head.")]
        [InlineData("X-Note: \0", "The request has a NUL byte in its head.")]
        [InlineData("X-Note: a\r\r", "The request has a bare CR in its head.")]
        public async Task A_bare_CR_or_a_NUL_in_a_header_is_refused_saying_which(string line, string message)
        {
            HttpRefusal refusal = await RefusedHeadAsync(Head + line + "\r\n\r\n");

            Assert.Equal(400, refusal.Status);
            Assert.Equal(message, refusal.Message);
        }

        [Theory]
        [InlineData("POST /hooks HTTP/1.1\r\nHost: listener\nX-Note: a\r\n\r\n")]
        [InlineData("POST /hooks HTTP/1.1\nHost: listener\r\n\r\n")]
        [InlineData("POST /hooks HTTP/1.1\r\nHost: listener\r\n\n")]
        [InlineData("POST /hooks HTTP/1.1\r\nHost: listener\r\n\r\n\n")]
        public async Task A_line_ending_in_a_bare_LF_is_refused(string text)
        {
            var reader = Reader(text);

            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(async () =>
            {
                await reader.ReadHeadAsync(CancellationToken.None);
                await reader.ReadBodyAsync(null, 100, CancellationToken.None);
            });

            Assert.Equal(400, refusal.Status);
            Assert.Equal("A line of the request ends in a bare LF, not CRLF.", refusal.Message);
        }

        [Fact]
        public async Task A_line_that_is_only_a_bare_LF_at_the_start_of_a_read_is_refused()
        {
            // After the head the buffer is empty, so the next read puts the LF at its very first byte.
            var reader = new HttpRequestReader(PieceStream.Ending("POST /hooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "\n0\r\n\r\n"));
            HttpRequestHead head = (await reader.ReadHeadAsync(CancellationToken.None))!;

            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => reader.ReadBodyAsync(HttpRequestReader.BodyLength(head, 100), 100, CancellationToken.None));

            Assert.Equal("A line of the request ends in a bare LF, not CRLF.", refusal.Message);
        }

        [Fact]
        public async Task A_head_of_exactly_32_KiB_is_read_and_one_byte_more_is_refused_431()
        {
            HttpRequestHead head = await HeadAsync(HeadOfSize(HttpRequestReader.MaximumHeadBytes));
            Assert.Equal(6, head.Headers.Count);

            HttpRefusal refusal = await RefusedHeadAsync(HeadOfSize(HttpRequestReader.MaximumHeadBytes + 1));
            Assert.Equal(431, refusal.Status);
            Assert.Equal("The request head is larger than 32768 bytes.", refusal.Message);
        }

        [Fact]
        public async Task Empty_lines_before_the_request_line_count_toward_the_head_limit()
        {
            // 9,000 empty lines (18,000 bytes) leave less room than the 15,000-byte request line that follows.
            HttpRefusal refusal = await RefusedHeadAsync(string.Concat(Enumerable.Repeat("\r\n", 9000)) + "POST /" + new string('a', 15000) + " HTTP/1.1\r\nHost: x\r\n\r\n");

            Assert.Equal(431, refusal.Status);
            Assert.Equal("The request head is larger than 32768 bytes.", refusal.Message);
        }

        [Fact]
        public async Task A_head_larger_than_the_read_buffer_is_read_across_several_reads() =>
            Assert.Equal(5, (await HeadAsync(HeadOfSize(30000))).Headers.Count);

        [Fact]
        public async Task A_single_line_longer_than_the_read_buffer_is_refused_431()
        {
            HttpRefusal refusal = await RefusedHeadAsync(Head + "X-Pad: " + new string('p', 17000) + "\r\n\r\n");

            Assert.Equal(431, refusal.Status);
            Assert.Equal("A line of the request is too long.", refusal.Message);
        }

        [Theory]
        [InlineData("0", 0L)]
        [InlineData(" 1234567890 ", 1234567890L)]
        [InlineData("000000000000000005", 5L)]
        [InlineData("7, 7 ,7", 7L)]
        public async Task Content_Length_is_a_number_of_up_to_18_digits_and_may_repeat_the_same_value(string value, long expected) =>
            Assert.Equal(expected, HttpRequestReader.BodyLength(await HeadAsync(Head + $"Content-Length: {value}\r\n\r\n"), int.MaxValue));

        [Theory]
        [InlineData("0000000000000000005")]
        [InlineData("")]
        [InlineData("5,")]
        [InlineData("5a")]
        [InlineData("/")]
        [InlineData(":")]
        public async Task A_Content_Length_that_is_not_a_number_of_at_most_18_digits_is_refused(string value)
        {
            HttpRequestHead head = await HeadAsync(Head + $"Content-Length: {value}\r\n\r\n");

            HttpRefusal refusal = Assert.Throws<HttpRefusal>(() => HttpRequestReader.BodyLength(head, int.MaxValue));

            Assert.Equal(400, refusal.Status);
            Assert.Equal("Content-Length is not a number.", refusal.Message);
        }

        [Fact]
        public async Task Without_Content_Length_or_Transfer_Encoding_the_body_is_empty() =>
            Assert.Equal(0L, HttpRequestReader.BodyLength(await HeadAsync(Head + "\r\n"), 100));

        [Fact]
        public async Task A_Content_Length_up_to_the_limit_is_taken_and_one_more_is_413()
        {
            Assert.Equal(100L, HttpRequestReader.BodyLength(await HeadAsync(Head + "Content-Length: 100\r\n\r\n"), 100));

            HttpRequestHead over = await HeadAsync(Head + "Content-Length: 101\r\n\r\n");
            HttpRefusal refusal = Assert.Throws<HttpRefusal>(() => HttpRequestReader.BodyLength(over, 100));
            Assert.Equal(413, refusal.Status);
            Assert.Equal("The body is larger than the limit of 100 bytes.", refusal.Message);
        }

        [Theory]
        [InlineData("chunked")]
        [InlineData(" Chunked ")]
        public async Task Transfer_Encoding_chunked_in_any_case_means_a_chunked_body(string coding) =>
            Assert.Null(HttpRequestReader.BodyLength(await HeadAsync(Head + $"Transfer-Encoding: {coding}\r\n\r\n"), 100));

        [Fact]
        public async Task A_body_of_exactly_the_limit_is_read_and_a_declared_length_over_it_is_413_before_reading()
        {
            var reader = Reader(Head + "Content-Length: 10\r\n\r\n0123456789");
            await reader.ReadHeadAsync(CancellationToken.None);
            Assert.Equal("0123456789", Latin1Text(await reader.ReadBodyAsync(10, 10, CancellationToken.None)));

            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => Reader("0123456789a").ReadBodyAsync(11, 10, CancellationToken.None));
            Assert.Equal(413, refusal.Status);
        }

        [Fact]
        public async Task A_body_that_stops_short_of_its_Content_Length_is_refused()
        {
            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => Reader("01234").ReadBodyAsync(10, 100, CancellationToken.None));

            Assert.Equal(400, refusal.Status);
            Assert.Equal("The connection closed before the whole body arrived.", refusal.Message);
        }

        [Fact]
        public async Task A_chunked_body_is_joined_with_hex_sizes_in_either_case_and_extensions_ignored()
        {
            string chunks = "a;name=value\r\n0123456789\r\nA \t\r\nabcdefghij\r\nF\r\n" + new string('f', 15) + "\r\nf\r\n" + new string('F', 15) + "\r\n00000009\r\n987654321\r\n0\r\n\r\n";

            byte[] body = await ChunkedBodyAsync(chunks, 100);

            Assert.Equal("0123456789abcdefghij" + new string('f', 15) + new string('F', 15) + "987654321", Latin1Text(body));
        }

        [Fact]
        public async Task A_chunked_body_of_exactly_the_limit_is_read_and_one_more_byte_is_413()
        {
            Assert.Equal(10, (await ChunkedBodyAsync("6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n", 10)).Length);

            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => ChunkedBodyAsync("6\r\n012345\r\n5\r\n6789a\r\n0\r\n\r\n", 10));
            Assert.Equal(413, refusal.Status);
        }

        [Theory]
        [InlineData("g")]
        [InlineData("G")]
        [InlineData(" 5")]
        [InlineData("")]
        [InlineData(";ext")]
        [InlineData("000000005")]
        [InlineData("80000000")]
        [InlineData("FFFFFFFF")]
        [InlineData("-1")]
        [InlineData("0x5")]
        public async Task A_chunk_size_that_is_not_1_to_8_hex_digits_of_a_positive_int_is_refused(string size)
        {
            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => ChunkedBodyAsync(size + "\r\nabcde\r\n0\r\n\r\n", int.MaxValue));

            Assert.Equal(400, refusal.Status);
            Assert.Equal("A chunk size is malformed.", refusal.Message);
        }

        [Fact]
        public async Task A_chunk_followed_by_more_than_its_size_is_refused()
        {
            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => ChunkedBodyAsync("2\r\nabc\r\n0\r\n\r\n", 100));

            Assert.Equal(400, refusal.Status);
            Assert.Equal("A chunk is longer than its size says.", refusal.Message);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public async Task A_chunk_line_of_1023_characters_is_read_even_when_its_end_comes_in_a_later_read(bool split)
        {
            string line = "5;" + new string('x', 1021);
            string body = "5;" + new string('x', 1021) + "\r\nhello\r\n0\r\n\r\n";
            Stream stream = split
                ? PieceStream.Ending(Head + "Transfer-Encoding: chunked\r\n\r\n", line + "\r", "\nhello\r\n0\r\n\r\n")
                : PieceStream.Ending(Head + "Transfer-Encoding: chunked\r\n\r\n", body);
            var reader = new HttpRequestReader(stream);
            await reader.ReadHeadAsync(CancellationToken.None);

            Assert.Equal("hello", Latin1Text(await reader.ReadBodyAsync(null, 100, CancellationToken.None)));
        }

        [Fact]
        public async Task A_chunk_line_of_1024_characters_is_refused()
        {
            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => ChunkedBodyAsync("5;" + new string('x', 1022) + "\r\nhello\r\n0\r\n\r\n", 100));

            Assert.Equal(400, refusal.Status);
            Assert.Equal("A chunk line is malformed or too long.", refusal.Message);
        }

        [Fact]
        public async Task A_chunk_line_over_1_KiB_is_refused_as_soon_as_it_is_seen_without_waiting_for_its_end()
        {
            // The peer sends 2,000 bytes of a chunk line and then nothing: the reader must not wait for more.
            var reader = new HttpRequestReader(PieceStream.Stalling(Head + "Transfer-Encoding: chunked\r\n\r\n", "5;" + new string('x', 2000)));
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await reader.ReadHeadAsync(patience.Token);

            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => reader.ReadBodyAsync(null, 100, patience.Token));

            Assert.Equal("A chunk line is malformed or too long.", refusal.Message);
        }

        [Theory]
        [InlineData("5\r\nhello\r\n")]
        [InlineData("5\r\nhello\r\n0\r\n")]
        [InlineData("5\r\nhello\r\n0\r\nX-T: 1\r\n")]
        [InlineData("5\r\nhel")]
        public async Task A_chunked_body_cut_off_before_its_last_empty_line_is_refused_as_closed_in_the_middle(string chunks)
        {
            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => ChunkedBodyAsync(chunks, 100));

            Assert.Equal(400, refusal.Status);
            Assert.StartsWith("The connection closed", refusal.Message);
        }

        [Fact]
        public async Task Trailer_fields_are_read_to_their_empty_line_and_ignored_leaving_nothing_of_the_request_unread()
        {
            var reader = Reader(Head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\nY-T: 2\r\n\r\n");
            HttpRequestHead head = (await reader.ReadHeadAsync(CancellationToken.None))!;

            Assert.Equal("hello", Latin1Text(await reader.ReadBodyAsync(HttpRequestReader.BodyLength(head, 100), 100, CancellationToken.None)));
            Assert.Null(await reader.ReadHeadAsync(CancellationToken.None));
        }

        [Theory]
        [InlineData("X-T: a\rb", "The request has a bare CR in its head.")]
        [InlineData("X-T: a\0b", "The request has a NUL byte in its head.")]
        public async Task A_trailer_line_is_held_to_the_rules_of_a_header_line(string trailer, string message)
        {
            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => ChunkedBodyAsync("5\r\nhello\r\n0\r\n" + trailer + "\r\n\r\n", 100));

            Assert.Equal(message, refusal.Message);
        }

        [Fact]
        public async Task Trailers_of_exactly_32_KiB_are_read_and_one_byte_more_is_refused_431()
        {
            // Trailer lines are only read and dropped, so 32 KiB of head lines serve as trailers.
            Assert.Equal("hello", Latin1Text(await ChunkedBodyAsync("5\r\nhello\r\n0\r\n" + HeadOfSize(HttpRequestReader.MaximumHeadBytes), 100)));

            HttpRefusal refusal = await Assert.ThrowsAsync<HttpRefusal>(() => ChunkedBodyAsync("5\r\nhello\r\n0\r\n" + HeadOfSize(HttpRequestReader.MaximumHeadBytes + 1), 100));
            Assert.Equal(431, refusal.Status);
            Assert.Equal("The request head is larger than 32768 bytes.", refusal.Message);
        }

        [Fact]
        public async Task A_request_arriving_one_byte_at_a_time_is_read_whole()
        {
            string text = "\r\n" + Head + "Transfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n";
            var reader = new HttpRequestReader(PieceStream.Ending(text.Select(c => c.ToString()).ToArray()));

            HttpRequestHead head = (await reader.ReadHeadAsync(CancellationToken.None))!;
            byte[] body = await reader.ReadBodyAsync(HttpRequestReader.BodyLength(head, 100), 100, CancellationToken.None);

            Assert.Equal("listener", head.Values("Host").Single());
            Assert.Equal("helloabc", Latin1Text(body));
        }

        [Theory]
        [InlineData("", "", Head + "\r\n")]
        [InlineData("", "POST /h", "ooks HTTP/1.1\r\nHost: listener\r\n\r\n")]
        [InlineData("", "POST /hooks HTTP/1.1\r\nHo", "st: listener\r\n\r\n")]
        [InlineData(Head + "Content-Length: 5\r\n\r\n", "", "hello")]
        [InlineData(Head + "Transfer-Encoding: chunked\r\n\r\n", "", "5\r\nhello\r\n0\r\n\r\n")]
        [InlineData(Head + "Transfer-Encoding: chunked\r\n\r\n", "5\r\nhe", "llo\r\n0\r\n\r\n")]
        [InlineData(Head + "Transfer-Encoding: chunked\r\n\r\n", "5\r\nhello", "\r\n0\r\n\r\n")]
        [InlineData(Head + "Transfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n0\r\nX-", "T: 1\r\n\r\n")]
        public async Task A_read_that_waits_for_the_peer_resumes_without_going_back_to_the_caller_s_context(string head, string sent, string later)
        {
            // The caller's context counts what is posted to it: a continuation that went back to it
            // (ConfigureAwait(true) anywhere on the waiting path) would be posted there, and a caller that blocks
            // on it would deadlock.
            var context = new CountingContext();
            var stream = new GatedStream(head + sent, later);
            var reader = new HttpRequestReader(stream);
            HttpRequestHead? read = head.Length > 0 ? await reader.ReadHeadAsync(CancellationToken.None) : null;

            Task<byte[]> operation = context.Start(async () =>
                read is null
                    ? Encoding.ASCII.GetBytes((await reader.ReadHeadAsync(CancellationToken.None).ConfigureAwait(false))!.Target)
                    : await reader.ReadBodyAsync(HttpRequestReader.BodyLength(read, 100), 100, CancellationToken.None).ConfigureAwait(false));
            Assert.False(operation.IsCompleted);
            stream.Open();
            byte[] result = await operation;

            Assert.Equal(read is null ? "/hooks" : "hello", Latin1Text(result));
            Assert.Equal(0, context.Posts);
        }

        private static HttpRequestReader Reader(string text) => new HttpRequestReader(new MemoryStream(Latin1(text)));

        private static async Task<HttpRequestHead> HeadAsync(string text) => (await Reader(text).ReadHeadAsync(CancellationToken.None))!;

        private static Task<HttpRefusal> RefusedHeadAsync(string text) => Assert.ThrowsAsync<HttpRefusal>(() => Reader(text).ReadHeadAsync(CancellationToken.None));

        private static async Task<byte[]> ChunkedBodyAsync(string chunks, int limit)
        {
            HttpRequestReader reader = Reader(Head + "Transfer-Encoding: chunked\r\n\r\n" + chunks);
            HttpRequestHead head = (await reader.ReadHeadAsync(CancellationToken.None))!;
            return await reader.ReadBodyAsync(HttpRequestReader.BodyLength(head, limit), limit, CancellationToken.None);
        }

        /// <summary>A head of exactly <paramref name="size"/> bytes: the request line, Host and padding headers of up to 8,000 bytes.</summary>
        private static string HeadOfSize(int size)
        {
            var text = new StringBuilder("POST /hooks HTTP/1.1\r\nHost: x\r\n");
            int left = size - text.Length - 2;
            while (left > 0)
            {
                int line = Math.Min(left, 8000);
                if (left - line is > 0 and < 12)
                {
                    line -= 12;
                }

                text.Append("X-Pad: ").Append('p', line - 9).Append("\r\n");
                left -= line;
            }

            text.Append("\r\n");
            Assert.Equal(size, text.Length);
            return text.ToString();
        }

        private static byte[] Latin1(string text) => text.Select(c => checked((byte)c)).ToArray();

        private static string Latin1Text(byte[] bytes) => new string(bytes.Select(b => (char)b).ToArray());

        /// <summary>A stream that is only read, asynchronously, as the reader reads it.</summary>
        private abstract class AsyncReadStream : Stream
        {
            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("The reader reads asynchronously.");

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }

        /// <summary>Serves its pieces one read each; then the end of the stream, or a read that waits until cancelled.</summary>
        private sealed class PieceStream : AsyncReadStream
        {
            private readonly Queue<byte[]> _pieces;
            private readonly bool _stallAtEnd;

            private PieceStream(bool stallAtEnd, string[] pieces)
            {
                _stallAtEnd = stallAtEnd;
                _pieces = new Queue<byte[]>(pieces.Select(Latin1));
            }

            public static PieceStream Ending(params string[] pieces) => new PieceStream(false, pieces);

            public static PieceStream Stalling(params string[] pieces) => new PieceStream(true, pieces);

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                if (_pieces.Count == 0)
                {
                    if (_stallAtEnd)
                    {
                        await Task.Delay(Timeout.Infinite, cancellationToken);
                    }

                    return 0;
                }

                byte[] piece = _pieces.Peek();
                int take = Math.Min(buffer.Length, piece.Length);
                piece.AsMemory(0, take).CopyTo(buffer);
                _pieces.Dequeue();
                if (take < piece.Length)
                {
                    var rest = new Queue<byte[]>(new[] { piece.Skip(take).ToArray() }.Concat(_pieces));
                    _pieces.Clear();
                    foreach (byte[] next in rest)
                    {
                        _pieces.Enqueue(next);
                    }
                }

                return take;
            }
        }

        /// <summary>Serves its first bytes at once; the next read waits until <see cref="Open"/>, then the rest follow at once.</summary>
        private sealed class GatedStream : AsyncReadStream
        {
            private readonly MemoryStream _before;
            private readonly MemoryStream _after;
            private readonly TaskCompletionSource<bool> _gate = new TaskCompletionSource<bool>();

            public GatedStream(string before, string after)
            {
                _before = new MemoryStream(Latin1(before));
                _after = new MemoryStream(Latin1(after));
            }

            /// <summary>Lets the waiting read complete, with no context on this thread so that it completes here.</summary>
            public void Open()
            {
                SynchronizationContext? previous = SynchronizationContext.Current;
                SynchronizationContext.SetSynchronizationContext(null);
                try
                {
                    _gate.SetResult(true);
                }
                finally
                {
                    SynchronizationContext.SetSynchronizationContext(previous);
                }
            }

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                if (_before.Position < _before.Length)
                {
                    return _before.Read(buffer.Span);
                }

                await _gate.Task.ConfigureAwait(false);
                return _after.Read(buffer.Span);
            }
        }
    }
}
