using JasperFx;
using Wolverine;

namespace OrderEvents.Infrastructure.Hosting;

/// <summary>
/// Development runs with nothing configured; every other environment must say where its database and broker are
/// (Infrastructure/Embedded refuses to start its own there), and changes schemas only through the documented commands
/// (`db-apply`, `resources setup`).
/// </summary>
public static class ProductionDefaults
{
    /// <summary>Schema changes at start-up only in Development; elsewhere `db-apply` / `resources setup` apply them.</summary>
    public static bool AutoCreateSchema(this IHostEnvironment environment) => environment.IsDevelopment();

    public static WebApplicationBuilder ApplySchemaPolicy(this WebApplicationBuilder builder)
    {
        if (!builder.Environment.AutoCreateSchema())
            builder.Services.ConfigureWolverine(opts => opts.AutoBuildMessageStorageOnStartup = AutoCreate.None);
        return builder;
    }
}
