namespace Kalbio.PowerShell.Commands
{
    /// <summary>
    /// The progress activity id of each cmdlet that shows progress. One per cmdlet, so that two of them in one pipeline
    /// (Get-KalFile ... | Submit-KalRegistrationResult) draw two bars instead of overwriting each other's; the values
    /// follow one another, so no two are the same.
    /// </summary>
    internal enum ProgressActivity
    {
        GetKalFile = 0x4B616C,
        InvokeKalApiRequest,
        SubmitKalRegistrationResult,
    }
}
