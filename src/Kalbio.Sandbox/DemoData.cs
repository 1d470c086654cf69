using System.Collections.Generic;
using System.Text;

namespace Kalbio.Sandbox;

/// <summary>The demo file seeded by <c>--seed-demo</c>: a small compound list a client-side registry can match.</summary>
public static class DemoData
{
    public const string FileId = "3f6c2a9e-5b1d-4c8e-9a7f-1e2d3c4b5a60";

    /// <summary>The operation the demo file is registered into by <c>--send-demo-event</c> and by the demo.</summary>
    public const string OperationId = "a1d5e7f0-3c2b-4e8d-9f6a-7b5c4d3e2f10";
    public const string FileName = "compounds-2026-11.csv";

    private static readonly (string Name, string Smiles, string Supplier)[] Compounds =
    [
        ("Aspirin", "CC(=O)OC1=CC=CC=C1C(=O)O", "Sigma-Aldrich"),
        ("Caffeine", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "Sigma-Aldrich"),
        ("Paracetamol", "CC(=O)NC1=CC=C(C=C1)O", "TCI Chemicals"),
        ("Ibuprofen", "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O", "Fluorochem"),
        ("Naproxen", "COC1=CC2=C(C=C1)C=C(C=C2)C(C)C(=O)O", "TCI Chemicals"),
        ("Metformin", "CN(C)C(=N)N=C(N)N", "Enamine"),
        ("Salicylic acid", "C1=CC=C(C(=C1)C(=O)O)O", "Sigma-Aldrich"),
        ("Benzocaine", "CCOC(=O)C1=CC=C(C=C1)N", "Fluorochem"),
        ("Theophylline", "CN1C2=C(C(=O)N(C1=O)C)NC=N2", "Enamine"),
        ("KAL-0042", "CC1=CC(=O)N(C1)C2=CC=CC=C2F", "In-house synthesis"),
        ("KAL-0107", "OC(=O)CCC1=CC=C(Cl)C=C1", "In-house synthesis"),
        ("KAL-0219", "CN1CCN(CC1)C(=O)C2=CC=C(O)C=C2", "Enamine"),
    ];

    public static IReadOnlyList<string> RecordIds
    {
        get
        {
            var ids = new List<string>();
            for (int i = 1; i <= Compounds.Length; i++)
            {
                ids.Add($"rec-{i:0000}");
            }

            return ids;
        }
    }

    public static string Csv
    {
        get
        {
            var csv = new StringBuilder("record_id,compound_name,smiles,supplier\n");
            IReadOnlyList<string> ids = RecordIds;
            for (int i = 0; i < Compounds.Length; i++)
            {
                (string name, string smiles, string supplier) = Compounds[i];
                csv.Append(ids[i]).Append(',').Append(name).Append(',').Append(smiles).Append(',').Append(supplier).Append('\n');
            }

            return csv.ToString();
        }
    }

    public static SeedFileRequest CreateSeedRequest() => new()
    {
        FileId = FileId,
        FileName = FileName,
        Content = Csv,
        RecordIds = RecordIds,
    };
}
