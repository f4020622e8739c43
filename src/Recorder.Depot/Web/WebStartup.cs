using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Recorder.Depot.Catalog;
using Recorder.Depot.Config;
using Recorder.Depot.Identity;

namespace Recorder.Depot.Web;

/// <summary>Registers the web pages, their thumbnails and operator access with the host.</summary>
public static class WebStartup
{
    public static void AddWebPages(this IServiceCollection services, DepotSettings settings)
    {
        services.AddSingleton(sp => new Thumbnails(settings.Storage.Dir, Path.Combine(settings.StateDir, "thumbnails"), sp.GetRequiredService<ILogger<Thumbnails>>()));
        services.AddSingleton(sp => new WebPages(sp.GetRequiredService<CatalogDatabase>(), sp.GetRequiredService<Thumbnails>(), settings.Storage.Dir));
        services.AddSingleton(new OperatorAccess(new TokenStore(settings.OperatorTokensFile)));
    }

    /// <summary>The pages and the access check; thumbnails are made as each recording is cataloged.</summary>
    public static (WebPages Pages, OperatorAccess Access) Start(IServiceProvider services)
    {
        var thumbnails = services.GetRequiredService<Thumbnails>();
        services.GetRequiredService<CatalogIndexer>().EntryCataloged += thumbnails.MakeFor;
        return (services.GetRequiredService<WebPages>(), services.GetRequiredService<OperatorAccess>());
    }
}
