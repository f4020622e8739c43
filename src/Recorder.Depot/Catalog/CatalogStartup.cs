using Microsoft.Extensions.DependencyInjection;
using Recorder.Depot.Config;

namespace Recorder.Depot.Catalog;

/// <summary>Opens the catalog the settings name (migrated to the latest schema) and registers its parts with the host.</summary>
public static class CatalogStartup
{
    /// <summary>PostgreSQL when <c>catalog.postgres</c> is set, else the SQLite file under <c>state_dir</c>; migrated.</summary>
    public static CatalogDatabase Open(DepotSettings settings, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var dialect = settings.Catalog.Postgres is { } postgres ? CatalogDialect.Postgres(postgres) : CatalogDialect.Sqlite(settings.CatalogFile);
        var database = new CatalogDatabase(dialect, time);
        try
        {
            database.Migrate();
        }
        catch
        {
            database.Dispose();
            throw;
        }
        return database;
    }

    /// <summary>The catalog database, the local storage as its source, the background indexer and the API.</summary>
    public static void AddCatalog(this IServiceCollection services, DepotSettings settings, TimeProvider time)
    {
        services.AddSingleton(_ => Open(settings, time));
        services.AddSingleton<ICatalogSource>(new LocalCatalogSource(settings.Storage.Dir));
        services.AddSingleton(new RecordingAnalysis(settings.Profiles, settings.Schemas, time));
        services.AddSingleton<CatalogIndexer>();
        services.AddHostedService(sp => sp.GetRequiredService<CatalogIndexer>());
        services.AddSingleton<CatalogWatchApi>();
        services.AddSingleton<CatalogApi>();
    }
}
