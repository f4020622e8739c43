using Recorder.Depot.Config;

namespace Recorder.Depot.Tests.Catalog;

/// <summary>depot.yaml's <c>catalog:</c> section: SQLite under state_dir by default, strict errors like every other key.</summary>
public sealed class CatalogConfigTests
{
    [Fact]
    public void The_catalog_is_sqlite_under_state_dir_unless_postgres_is_set()
    {
        var defaults = DepotConfigLoader.Load(null).Settings!;
        Assert.Null(defaults.Catalog.Postgres);
        Assert.Equal(Path.Combine("./depot-state", "catalog.sqlite"), defaults.CatalogFile);
        var postgres = DepotConfigLoader.LoadFromText("catalog: { postgres: \"Host=db;Database=depot;Username=depot\" }\n", "depot.yaml");
        Assert.True(postgres.Succeeded, string.Join("\n", postgres.Errors));
        Assert.Equal("Host=db;Database=depot;Username=depot", postgres.Settings!.Catalog.Postgres);
    }

    [Fact]
    public void A_bad_catalog_section_gets_an_exact_error()
    {
        var unknown = DepotConfigLoader.LoadFromText("catalog: { sqlite: x }\n", "depot.yaml");
        Assert.Equal("depot.yaml:1:12: unknown key 'sqlite' in 'catalog' (known keys: postgres)", Assert.Single(unknown.Errors).ToString());
        var bad = DepotConfigLoader.LoadFromText("catalog: { postgres: \"Host=db;Colour=red\" }\n", "depot.yaml");
        Assert.StartsWith("depot.yaml:1:22: catalog.postgres is not a PostgreSQL connection string: ", Assert.Single(bad.Errors).ToString(), StringComparison.Ordinal);
    }
}
