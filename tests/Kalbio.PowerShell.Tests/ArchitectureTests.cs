using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The layers: Kalbio.Core never sees PowerShell, and inside it each folder uses only the folders below it.
    /// </summary>
    public class ArchitectureTests
    {
        // Each core folder and the folders it may use (its namespace is Kalbio.Core.<folder>; "" is the root).
        private static readonly Dictionary<string, string[]> AllowedUses = new Dictionary<string, string[]>
        {
            [""] = Array.Empty<string>(),
            ["Model"] = new[] { "" },
            ["Json"] = new[] { "", "Model" },
            ["Http"] = new[] { "" },
            ["Api"] = new[] { "", "Model", "Json", "Http" },
            ["Webhooks"] = new[] { "", "Model", "Json" },
        };

        private static readonly Regex KalbioNamespace = new Regex(@"\b(?:global::)?(Kalbio\.[A-Za-z.]+)", RegexOptions.CultureInvariant);

        [Fact]
        public void The_core_assembly_does_not_reference_PowerShell()
        {
            AssemblyName[] references = typeof(KalApiException).Assembly.GetReferencedAssemblies();

            Assert.Equal("Kalbio.Core", typeof(KalApiException).Assembly.GetName().Name);
            Assert.Contains(references, r => r.Name == "System.Text.Json");
            Assert.DoesNotContain(references, r => r.Name!.StartsWith("System.Management.Automation", StringComparison.Ordinal));
            Assert.DoesNotContain(references, r => r.Name == "Kalbio.PowerShell");
        }

        [Fact]
        public void Every_core_folder_is_a_known_layer()
        {
            string core = CoreSource();
            string[] folders = Directory.GetDirectories(core)
                .Select(Path.GetFileName)
                .Where(name => name != "bin" && name != "obj")
                .Select(name => name!)
                .ToArray();

            Assert.NotEmpty(folders);
            Assert.All(folders, folder => Assert.True(AllowedUses.ContainsKey(folder), $"src/Kalbio.Core/{folder} is not in the layer table of {nameof(ArchitectureTests)}"));
        }

        [Fact]
        public void Core_folders_use_only_the_layers_below_them()
        {
            var violations = new List<string>();
            int files = 0;
            foreach (KeyValuePair<string, string[]> layer in AllowedUses)
            {
                string folder = Path.Combine(CoreSource(), layer.Key);
                foreach (string file in Directory.GetFiles(folder, "*.cs"))
                {
                    files++;
                    foreach (string used in UsedLayers(File.ReadAllText(file)))
                    {
                        if (used != layer.Key && !layer.Value.Contains(used))
                        {
                            violations.Add($"{Path.GetFileName(folder)}/{Path.GetFileName(file)} uses {(used.Length == 0 ? "the root" : used)}");
                        }
                    }
                }
            }

            Assert.True(files > 30, $"only {files} core files were found");
            Assert.Empty(violations);
        }

        [Fact]
        public void The_layer_table_has_no_cycle()
        {
            var visiting = new HashSet<string>();
            var done = new HashSet<string>();

            void Visit(string layer, string path)
            {
                Assert.True(visiting.Add(layer), $"cycle: {path}");
                foreach (string below in AllowedUses[layer])
                {
                    if (!done.Contains(below))
                    {
                        Visit(below, path + " -> " + below);
                    }
                }

                visiting.Remove(layer);
                done.Add(layer);
            }

            foreach (string layer in AllowedUses.Keys)
            {
                Visit(layer, layer);
            }

            Assert.Equal(AllowedUses.Count, done.Count);
        }

        [Theory]
        [InlineData("using Kalbio.Core.Http;\nnamespace Kalbio.Core.Json { }", "Http")]
        [InlineData("namespace Kalbio.Core.Json { class A { global::Kalbio.Core.Api.FilesApi? f; } }", "Api")]
        [InlineData("using Kalbio.PowerShell.Model;\nnamespace Kalbio.Core { }", "Model")]
        [InlineData("using Kalbio.PowerShell.Commands;\nnamespace Kalbio.Core { }", "PowerShell")]
        [InlineData("namespace Kalbio.Core { class A { string s = \"Kalbio.PowerShell\"; Kalbio.Core.Http.Redactor? r; } }", "Http")]
        public void The_check_sees_a_using_and_a_qualified_name(string source, string expected)
        {
            Assert.Contains(expected, UsedLayers(source));
        }

        [Fact]
        public void The_core_messages_name_no_cmdlet_parameter()
        {
            var violations = new List<string>();
            string[] files = Directory.GetFiles(CoreSource(), "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains(Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                .ToArray();
            foreach (string file in files)
            {
                foreach (string parameter in ParametersNamedIn(File.ReadAllText(file)))
                {
                    violations.Add($"{Path.GetFileName(file)} names {parameter}");
                }
            }

            Assert.True(files.Length > 30, $"only {files.Length} core files were found");
            Assert.Empty(violations);
        }

        [Theory]
        [InlineData("throw new X(\"Connect with a larger -TimeoutSec.\");", "-TimeoutSec")]
        [InlineData("string s = $\"The file '{path}' exists; leave out -NoClobber.\";", "-NoClobber")]
        [InlineData("string s = \"-SkipCertificateCheck is set\";", "-SkipCertificateCheck")]
        public void The_parameter_check_sees_a_parameter_in_a_string(string source, string expected) =>
            Assert.Contains(expected, ParametersNamedIn(source));

        [Theory]
        [InlineData("// Connect with a larger -TimeoutSec.")]
        [InlineData("string h = \"X-Kal-Authorization\", l = \"Content-Length\", v = \"2026-11-29\";")]
        [InlineData("int x = a -Math.Abs(b);")]
        public void The_parameter_check_ignores_comments_header_names_and_code(string source) =>
            Assert.Empty(ParametersNamedIn(source));

        [Fact]
        public void Cmdlets_hold_no_request_or_http_pipeline()
        {
            var forbidden = new Regex(@"\b(?:KalRequest|KalHttpPipeline|TokenManager|Redactor)\b|\.(?:Http|Tokens)\b(?!\s*;)", RegexOptions.CultureInvariant);
            string commands = Path.Combine(Path.GetDirectoryName(CoreSource())!, "Kalbio.PowerShell", "Commands");
            var violations = new List<string>();
            string[] files = Directory.GetFiles(commands, "*.cs");
            foreach (string file in files)
            {
                string code = Regex.Replace(File.ReadAllText(file), @"^using .*$", string.Empty, RegexOptions.Multiline);
                foreach (Match match in forbidden.Matches(Regex.Replace(code, @"//.*", string.Empty)))
                {
                    violations.Add($"{Path.GetFileName(file)} uses {match.Value}");
                }
            }

            Assert.True(files.Length > 10, $"only {files.Length} cmdlet files were found");
            Assert.Empty(violations);
        }

        // "-Name" in a string literal, as a cmdlet parameter is written (not a header such as X-Kal-Authorization).
        private static IEnumerable<string> ParametersNamedIn(string source)
        {
            string withoutComments = Regex.Replace(source, @"(?<!:)//.*", string.Empty);
            foreach (Match literal in Regex.Matches(withoutComments, @"""(?:[^""\\\n]|\\.)*"""))
            {
                foreach (Match parameter in Regex.Matches(literal.Value, @"(?<![\w-])-[A-Z][a-z]+[A-Za-z]*"))
                {
                    yield return parameter.Value;
                }
            }
        }

        // The layers a source file names, by using directive or qualified name (its own namespace is not a use).
        private static IEnumerable<string> UsedLayers(string source)
        {
            string withoutComments = Regex.Replace(Regex.Replace(source, @"//.*", string.Empty), @"""(?:[^""\\\n]|\\.)*""", "\"\"");
            foreach (Match match in KalbioNamespace.Matches(withoutComments))
            {
                int lineStart = withoutComments.LastIndexOf('\n', Math.Max(0, match.Index - 1)) + 1;
                if (withoutComments.Substring(lineStart, match.Index - lineStart).Trim() == "namespace")
                {
                    continue;
                }

                yield return LayerOf(match.Groups[1].Value);
            }
        }

        private static string LayerOf(string qualifiedName)
        {
            string[] parts = qualifiedName.TrimEnd('.').Split('.');
            if (parts.Length >= 2 && parts[1] == "PowerShell")
            {
                // The published types keep their 0.1 names: the models, and in the root the exceptions users catch.
                // Anything else under Kalbio.PowerShell is the cmdlet layer.
                return parts.Length >= 3 && parts[2] == "Model" ? "Model" : parts.Length >= 3 && parts[2] == "Client" ? string.Empty : "PowerShell";
            }

            return parts.Length >= 3 && parts[1] == "Core" && AllowedUses.ContainsKey(parts[2]) ? parts[2] : string.Empty;
        }

        private static string CoreSource()
        {
            string? directory = AppContext.BaseDirectory;
            while (directory != null && !File.Exists(Path.Combine(directory, "Kalbio.PowerShell.sln")))
            {
                directory = Path.GetDirectoryName(directory);
            }

            Assert.NotNull(directory);
            return Path.Combine(directory!, "src", "Kalbio.Core");
        }
    }
}
