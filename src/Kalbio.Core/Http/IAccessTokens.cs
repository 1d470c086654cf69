using System.Threading;
using System.Threading.Tasks;

namespace Kalbio.Core.Http
{
    /// <summary>Where an authenticated request gets its access token (the connection's <see cref="TokenManager"/>).</summary>
    internal interface IAccessTokens
    {
        Task<string> GetAccessTokenAsync(IKalLog log, CancellationToken cancellation);

        /// <summary>The server refused <paramref name="rejectedToken"/> before its time; renew it unless another caller already has.</summary>
        Task<string> RenewRejectedAsync(string rejectedToken, IKalLog log, CancellationToken cancellation);
    }
}
