using System.Runtime.CompilerServices;

namespace Kalbio.Core
{
    internal static class HotPath
    {
        /// <summary>
        /// MethodImplOptions.AggressiveOptimization, which netstandard2.0 does not name. Methods run once per record
        /// are compiled fully optimized at once: a pipeline of 100,000 records is often over before tiered compilation
        /// would have replaced their slow first-tier code.
        /// </summary>
        public const MethodImplOptions Optimize = (MethodImplOptions)512;
    }
}
