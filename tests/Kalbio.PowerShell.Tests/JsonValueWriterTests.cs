using System;
using System.Buffers;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Kalbio.Core.Json;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>The JSON writer of record data on its own: every kind of value it takes, its paths in errors, its depth limit and its adapter.</summary>
    public sealed class JsonValueWriterTests
    {
        private static string Json(object? value, Func<object, object?>? adapt = null) => Json(new JsonValueWriter(adapt), value);

        private static string Json(JsonValueWriter values, object? value) => Written(writer => values.Write(writer, value, "data"));

        private static string ObjectJson(object value, Func<object, object?>? adapt) => Written(writer => new JsonValueWriter(adapt).WriteObject(writer, value, "data"));

        private static string Written(Action<Utf8JsonWriter> write)
        {
            var output = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(output, JsonValueWriter.WriterOptions))
            {
                write(writer);
            }

            return Encoding.UTF8.GetString(output.WrittenSpan.ToArray());
        }

        private static KalInputException Refused(object? value, Func<object, object?>? adapt = null) =>
            Assert.Throws<KalInputException>(() => Json(value, adapt));

        private static JsonElement Parsed(string json)
        {
            using JsonDocument document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = JsonValueWriter.MaximumDepth + 8 });
            return document.RootElement.Clone();
        }

        private static OrderedDictionary Ordered(params (object Key, object? Value)[] entries)
        {
            var dictionary = new OrderedDictionary();
            foreach ((object key, object? value) in entries)
            {
                dictionary.Add(key, value);
            }

            return dictionary;
        }

        private static JsonObjectView View(params (string Name, object? Value)[] properties) =>
            new JsonObjectView(properties.Select(p => new KeyValuePair<string, object?>(p.Name, p.Value)).ToList());

        [Fact]
        public void Text_keeps_every_character_escaping_only_what_JSON_requires_and_non_ASCII_as_UTF8()
        {
            string text = "quote \" backslash \\ newline \n tab \t bell \u0007 é 𝄞 <tag> & '";
            string json = Json(text);

            // A character outside the BMP is escaped as its surrogate pair; the rest of the non-ASCII text is UTF-8.
            Assert.Equal("\"quote \\\" backslash \\\\ newline \\n tab \\t bell \\u0007 é \\uD834\\uDD1E <tag> & '\"", json);
            Assert.Equal(text, Parsed(json).GetString());
        }

        [Fact]
        public void Text_with_a_lone_surrogate_is_refused_naming_where_and_the_index_whatever_carries_it()
        {
            var cases = new (object Data, string Where, object Target, int Index)[]
            {
                (Ordered(("name", "aspirin \uD800")), "The text at data.name", "aspirin \uD800", 8),
                (Ordered(("list", new object[] { "ok", "x\uDC00y" })), "The text at data.list[1]", "x\uDC00y", 1),
                (View(("inner", View(("note", "\uDC00\uD800")))), "The text at data.inner.note", "\uDC00\uD800", 0),
                (Ordered(("letter", '\uD800')), "The text at data.letter", "\uD800", 0),
                (Ordered(("link", new Uri("files/a\uDBFF", UriKind.Relative))), "The text at data.link", "files/a\uDBFF", 7),
                (Ordered(("na\uD800me", "ok")), "The field name at data.na\uD800me", "na\uD800me", 2),
                (Ordered(("na\uDC00me", 1)), "The field name at data.na\uDC00me", "na\uDC00me", 2),
                (View(("na\uD83Dme", true)), "The field name at data.na\uD83Dme", "na\uD83Dme", 2),
            };

            foreach ((object data, string where, object target, int index) in cases)
            {
                KalInputException refused = Refused(data);
                Assert.Equal("UnsupportedJsonValue", refused.ErrorId);
                Assert.Equal($"{where} is not valid Unicode (it has a lone surrogate character at index {index}) and cannot be sent as JSON.", refused.Message);
                Assert.Equal(target, refused.Target);
            }
        }

        [Fact]
        public void Surrogate_pairs_in_text_names_characters_and_addresses_are_sent_as_given()
        {
            string json = Json(Ordered(("🧪", "a 🧪 b"), ("view", View(("𝄞", new Uri("files/🧪", UriKind.Relative))))));
            JsonElement parsed = Parsed(json);

            Assert.Equal("a 🧪 b", parsed.GetProperty("🧪").GetString());
            Assert.Equal("files/🧪", parsed.GetProperty("view").GetProperty("𝄞").GetString());
        }

        [Fact]
        public void Parsed_JSON_with_an_escaped_lone_surrogate_is_refused_not_written_half()
        {
            using JsonDocument document = JsonDocument.Parse("{\"a\":[\"ok\",\"x\\udc00\"]}");

            foreach (object parsed in new object[] { document, document.RootElement })
            {
                KalInputException refused = Refused(Ordered(("nested", parsed)));
                Assert.Equal("UnsupportedJsonValue", refused.ErrorId);
                Assert.StartsWith("The JSON at data.nested cannot be sent as JSON: ", refused.Message);
                Assert.IsType<InvalidOperationException>(refused.InnerException);
            }
        }

        [Fact]
        public void Null_and_a_database_null_are_JSON_null()
        {
            Assert.Equal("null", Json(null));
            Assert.Equal("null", Json(DBNull.Value));
        }

        [Fact]
        public void Booleans_are_JSON_booleans_not_text()
        {
            Assert.Equal("true", Json(true));
            Assert.Equal("false", Json(false));
            Assert.Equal(JsonValueKind.True, Parsed(Json(true)).ValueKind);
        }

        public static IEnumerable<object[]> Numbers() => new[]
        {
            new object[] { int.MinValue, "-2147483648" },
            new object[] { long.MaxValue, "9223372036854775807" },
            new object[] { short.MinValue, "-32768" },
            new object[] { byte.MaxValue, "255" },
            new object[] { sbyte.MinValue, "-128" },
            new object[] { ushort.MaxValue, "65535" },
            new object[] { uint.MaxValue, "4294967295" },
            new object[] { ulong.MaxValue, "18446744073709551615" },
            new object[] { 180.16m, "180.16" },
            new object[] { -0.000001m, "-0.000001" },
            new object[] { 0.1, "0.1" },
            new object[] { 6.02214076e23, "6.02214076E+23" },
            new object[] { 0.1f, "0.1" },
            new object[] { -3.25f, "-3.25" },
            new object[] { BigInteger.Pow(2, 100), "1267650600228229401496703205376" },
            new object[] { -BigInteger.Pow(10, 30), "-1000000000000000000000000000000" },
        };

        [Theory]
        [MemberData(nameof(Numbers))]
        public void Numbers_of_every_CLR_type_are_JSON_numbers_with_their_exact_value(object number, string expected)
        {
            string json = Json(number);

            Assert.Equal(expected, json);
            JsonElement parsed = Parsed(json);
            Assert.Equal(JsonValueKind.Number, parsed.ValueKind);
            switch (number)
            {
                case double d:
                    Assert.Equal(d, parsed.GetDouble());
                    break;
                case float f:
                    Assert.Equal(f, parsed.GetSingle());
                    break;
                case BigInteger big:
                    Assert.Equal(big, BigInteger.Parse(parsed.GetRawText(), System.Globalization.CultureInfo.InvariantCulture));
                    break;
                case ulong ul:
                    Assert.Equal(ul, parsed.GetUInt64());
                    break;
                default:
                    Assert.Equal(Convert.ToDecimal(number, System.Globalization.CultureInfo.InvariantCulture), parsed.GetDecimal());
                    break;
            }
        }

        [Theory]
        [InlineData(double.NaN, "NaN")]
        [InlineData(double.PositiveInfinity, "Infinity")]
        [InlineData(double.NegativeInfinity, "-Infinity")]
        public void Numbers_JSON_cannot_hold_are_refused_as_double_or_float(double number, string shown)
        {
            foreach (object value in new object[] { number, (float)number })
            {
                KalInputException refused = Refused(Ordered(("mw", value)));
                Assert.Equal("UnsupportedJsonValue", refused.ErrorId);
                Assert.StartsWith($"The value at data.mw is the number {shown}, which JSON cannot represent and cannot be sent as JSON.", refused.Message);
                Assert.Equal(value, refused.Target);
            }
        }

        [Fact]
        public void A_character_is_one_character_of_text()
        {
            Assert.Equal("\"x\"", Json('x'));
            Assert.Equal("\"\\\"\"", Json('"'));
            Assert.Equal("é", Parsed(Json('é')).GetString());
        }

        [Fact]
        public void Dates_are_ISO_8601_text_keeping_their_kind_and_offset()
        {
            var utc = new DateTime(2024, 1, 2, 3, 4, 5, 123, DateTimeKind.Utc);
            var local = new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Unspecified);
            var offset = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.FromHours(2));

            Assert.Equal("\"2024-01-02T03:04:05.123Z\"", Json(utc));
            Assert.Equal("\"2024-01-02T03:04:05\"", Json(local));
            Assert.Equal("\"2024-01-02T03:04:05+02:00\"", Json(offset));
            Assert.Equal(utc, Parsed(Json(utc)).GetDateTime());
            Assert.Equal(offset, Parsed(Json(offset)).GetDateTimeOffset());
        }

        [Fact]
        public void Ids_durations_addresses_versions_and_enums_are_their_usual_text()
        {
            var id = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");

            Assert.Equal("\"0f8fad5b-d9cb-469f-a165-70867728950e\"", Json(id));
            Assert.Equal(id, Parsed(Json(id)).GetGuid());
            Assert.Equal("\"1.02:03:04.5000000\"", Json(new TimeSpan(1, 2, 3, 4, 500)));
            Assert.Equal("\"-00:00:30\"", Json(TimeSpan.FromSeconds(-30)));
            Assert.Equal("\"https://example.org/a b?q=1\"", Json(new Uri("https://example.org/a b?q=1")));
            Assert.Equal("\"files/x.csv\"", Json(new Uri("files/x.csv", UriKind.Relative)));
            Assert.Equal("\"1.2.3\"", Json(new Version(1, 2, 3)));
            Assert.Equal("\"Monday\"", Json(DayOfWeek.Monday));
            Assert.Equal("\"ReadOnly, Hidden\"", Json(FileAttributes.ReadOnly | FileAttributes.Hidden));
        }

        [Fact]
        public void Bytes_are_base64_text()
        {
            byte[] bytes = { 1, 2, 3, 255 };
            string json = Json(bytes);

            Assert.Equal("\"AQID/w==\"", json);
            Assert.Equal(bytes, Parsed(json).GetBytesFromBase64());
        }

        [Fact]
        public void Parsed_JSON_is_written_as_it_was()
        {
            const string Original = "{\"a\":[1,2.5,null,true,\"x\"],\"b\":{\"c\":-0.0}}";
            using JsonDocument document = JsonDocument.Parse(Original);

            Assert.Equal(Original, Json(document));
            Assert.Equal(Original, Json(document.RootElement));
            Assert.Equal("[1,2.5,null,true,\"x\"]", Json(document.RootElement.GetProperty("a")));
        }

        [Fact]
        public void Dictionaries_are_objects_in_their_order_with_keys_as_invariant_text()
        {
            var nested = Ordered(("x", 1), (2.5, "two and a half"), (true, null), (new NoName(), "unnamed"));
            string json = Json(Ordered(("name", "aspirin"), (7, nested), ("list", new List<object?> { 1, "a", null, false, new[] { 1, 2 } })));

            Assert.Equal("{\"name\":\"aspirin\",\"7\":{\"x\":1,\"2.5\":\"two and a half\",\"True\":null,\"\":\"unnamed\"},\"list\":[1,\"a\",null,false,[1,2]]}", json);
            Assert.Equal("aspirin", Parsed(json).GetProperty("name").GetString());
        }

        [Fact]
        public void An_object_view_is_an_object_with_its_properties_in_order()
        {
            string json = Json(View(("name", "aspirin"), ("mw", 180.16), ("tags", new[] { "a" }), ("inner", View(("ok", true)))));

            Assert.Equal("{\"name\":\"aspirin\",\"mw\":180.16,\"tags\":[\"a\"],\"inner\":{\"ok\":true}}", json);
        }

        [Fact]
        public void A_value_of_no_JSON_kind_is_refused_naming_its_type_and_where_it_is()
        {
            var value = new object();
            KalInputException refused = Refused(Ordered(("compound", Ordered(("salt", value)))));

            Assert.Equal("UnsupportedJsonValue", refused.ErrorId);
            Assert.StartsWith("The value at data.compound.salt is a System.Object and cannot be sent as JSON.", refused.Message);
            Assert.Same(value, refused.Target);
        }

        [Fact]
        public void Errors_name_the_path_through_objects_arrays_and_views_and_siblings_after_a_container()
        {
            Assert.StartsWith("The value at data.synonyms[2].mw is", Refused(Ordered(("synonyms", new object[] { "a", 1, Ordered(("mw", double.NaN)) }))).Message);
            Assert.StartsWith("The value at data.view.list[1] is", Refused(Ordered(("view", View(("list", new object[] { 1, float.NaN }))))).Message);
            Assert.StartsWith("The value at data.after is", Refused(Ordered(("list", new object[] { 1, 2 }), ("inner", Ordered(("a", 1))), ("after", double.NaN))).Message);
            Assert.StartsWith("The value at data.after is", Refused(View(("list", new object[] { 1 }), ("inner", View(("a", 1))), ("after", double.NaN))).Message);
            Assert.StartsWith("The value at data[1] is", Refused(new object[] { new object[] { 1 }, double.NaN }).Message);
        }

        [Fact]
        public void One_writer_names_each_value_from_its_own_root()
        {
            var values = new JsonValueWriter();
            Assert.Equal("{\"a\":[1]}", Json(values, Ordered(("a", new[] { 1 }))));
            Assert.Throws<KalInputException>(() => Json(values, Ordered(("a", Ordered(("b", double.NaN))))));

            KalInputException refused = Assert.Throws<KalInputException>(() => Json(values, Ordered(("c", double.NaN))));
            Assert.StartsWith("The value at data.c is", refused.Message);
        }

        [Fact]
        public void Nesting_is_written_to_256_levels_and_refused_beyond_for_every_kind_of_container()
        {
            foreach (Func<object?, object> wrap in new Func<object?, object>[] { v => Ordered(("v", v)), v => new List<object?> { v }, v => View(("v", v)) })
            {
                object deepest = Nest(wrap, JsonValueWriter.MaximumDepth);
                Assert.Equal(JsonValueWriter.MaximumDepth, Depth(Parsed(Json(deepest))));

                KalInputException refused = Refused(wrap(deepest));
                Assert.Equal("UnsupportedJsonValue", refused.ErrorId);
                Assert.Contains("is nesting deeper than 256 levels (does the value contain itself?)", refused.Message);
            }
        }

        [Fact]
        public void A_value_that_contains_itself_is_refused_not_a_stack_overflow()
        {
            var table = new Hashtable();
            table["self"] = table;
            var list = new List<object>();
            list.Add(list);

            Assert.Contains("nesting deeper than 256 levels", Refused(table).Message);
            Assert.Contains("nesting deeper than 256 levels", Refused(list).Message);
        }

        [Fact]
        public void Many_containers_side_by_side_are_not_nesting()
        {
            const int Count = JsonValueWriter.MaximumDepth + 50;
            Assert.Equal(Count, Parsed(Json(Enumerable.Range(0, Count).Select(_ => new Hashtable()).ToList())).GetArrayLength());
            Assert.Equal(Count, Parsed(Json(Enumerable.Range(0, Count).Select(_ => Array.Empty<int>()).ToList())).GetArrayLength());
            Assert.Equal(Count, Parsed(Json(Enumerable.Range(0, Count).Select(_ => View()).ToList())).GetArrayLength());
        }

        [Fact]
        public void The_adapter_turns_host_objects_into_values_at_every_level_and_never_sees_null()
        {
            object? Adapt(object value) => value is Row row ? View(("id", row.Id)) : value ?? throw new InvalidOperationException("the adapter was given null");

            string json = Json(Ordered(("row", new Row("C-1")), ("none", null), ("rows", new object[] { new Row("C-2") })), Adapt);

            Assert.Equal("{\"row\":{\"id\":\"C-1\"},\"none\":null,\"rows\":[{\"id\":\"C-2\"}]}", json);
            Assert.Equal("{\"id\":\"C-3\"}", ObjectJson(new Row("C-3"), Adapt));
        }

        [Fact]
        public void Without_an_adapter_a_host_object_is_refused()
        {
            KalInputException refused = Refused(Ordered(("row", new Row("C-1"))));
            Assert.StartsWith($"The value at data.row is a {typeof(Row).FullName} and cannot be sent as JSON.", refused.Message);
        }

        [Theory]
        [InlineData("text", "text")]
        [InlineData("list", "a list")]
        [InlineData("number", "a System.Int32")]
        [InlineData("nothing", "empty")]
        public void Record_data_must_be_an_object_and_the_refusal_says_what_it_is(string kind, string described)
        {
            object value = kind switch
            {
                "text" => "C-1",
                "list" => new[] { 1, 2 },
                "number" => 42,
                _ => new Row("gone"),
            };

            KalInputException refused = Assert.Throws<KalInputException>(() => ObjectJson(value, v => v is Row ? null : v));

            Assert.Equal("RecordDataNotAnObject", refused.ErrorId);
            Assert.Equal($"data must be a hashtable or an object with properties (field name -> value), but it is {described}.", refused.Message);
            Assert.Same(value, refused.Target);
        }

        private static object Nest(Func<object?, object> wrap, int levels)
        {
            object value = wrap(1);
            for (int level = 1; level < levels; level++)
            {
                value = wrap(value);
            }

            return value;
        }

        private static int Depth(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.Object => 1 + Depth(element.EnumerateObject().Single().Value),
            JsonValueKind.Array => 1 + Depth(element.EnumerateArray().Single()),
            _ => 0,
        };

        private sealed class Row
        {
            public Row(string id) => Id = id;

            public string Id { get; }
        }

        private sealed class NoName
        {
            public override string? ToString() => null;
        }
    }
}
