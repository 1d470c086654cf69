using System;
using System.Linq;
using System.Reflection;
using Kalbio.Core.Api;
using Kalbio.Core.Http;
using Kalbio.PowerShell.Client;
using Xunit;

namespace Kalbio.PowerShell.Tests
{
    /// <summary>
    /// The HTTP pipeline is built whole: the sender first, the token manager on its own token-less pipeline, then the
    /// API pipeline over both. Nothing is patched in after construction, and the pipeline knows tokens only through
    /// <see cref="IAccessTokens"/>, so pipeline and token manager do not depend on each other.
    /// </summary>
    public sealed class HttpLayeringTests
    {
        private const BindingFlags Members = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

        [Theory]
        [InlineData(typeof(KalHttpPipeline))]
        [InlineData(typeof(HttpSender))]
        [InlineData(typeof(KalClient))]
        [InlineData(typeof(KalConnection))]
        public void Every_field_is_set_by_the_constructor_and_never_again(Type type)
        {
            FieldInfo[] fields = type.GetFields(Members);

            Assert.NotEmpty(fields);
            Assert.All(fields, field => Assert.True(field.IsInitOnly, $"{type.Name}.{field.Name} can be set after construction."));
        }

        [Theory]
        [InlineData(typeof(KalHttpPipeline))]
        [InlineData(typeof(HttpSender))]
        public void Sending_never_names_the_token_manager(Type type)
        {
            Type[] used = type.GetFields(Members).Select(f => f.FieldType)
                .Concat(type.GetMethods(Members).SelectMany(m => m.GetParameters()).Select(p => p.ParameterType))
                .Concat(type.GetConstructors(Members).SelectMany(c => c.GetParameters()).Select(p => p.ParameterType))
                .ToArray();

            Assert.Contains(typeof(IAccessTokens), used);
            Assert.DoesNotContain(typeof(TokenManager), used);
        }
    }
}
