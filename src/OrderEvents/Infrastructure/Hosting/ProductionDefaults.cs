using JasperFx;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;
using Wolverine;

namespace OrderEvents.Infrastructure.Hosting;

/// <summary>
/// Development runs with nothing configured; every other environment must say where its database and broker are,
/// and changes schemas only through the documented commands (`db-apply`, `resources setup`).
/// </summary>
public static class ProductionDefaults
{
    /// <summary>Set to true to run the embedded PostgreSQL / in-memory Kafka broker outside Development (demos, CI).</summary>
    public const string AllowEmbeddedSetting = "EmbeddedInfrastructure:Allow";

    public static WebApplicationBuilder RequireRealInfrastructureOutsideDevelopment(this WebApplicationBuilder builder)
    {
        if (builder.Environment.IsDevelopment() || builder.Configuration.GetValue(AllowEmbeddedSetting, false)) return builder;

        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(PersistenceSetup.ConnectionStringName)))
            missing.Add("ConnectionStrings__Postgres (the PostgreSQL connection string)");
        if (KafkaSettings.From(builder.Configuration) is { UseEmbeddedBroker: true })
            missing.Add("KAFKA_BROKERS (the Kafka bootstrap servers, or KAFKA_ENABLED=false)");
        if (missing.Count == 0) return builder;

        throw new InvalidOperationException(
            $"The {builder.Environment.EnvironmentName} environment would start embedded development infrastructure " +
            $"(an in-process PostgreSQL server or Kafka broker). Set {string.Join(" and ", missing)}, " +
            "or set EmbeddedInfrastructure__Allow=true to run the embedded ones deliberately.");
    }

    /// <summary>Schema changes at start-up only in Development; elsewhere `db-apply` / `resources setup` apply them.</summary>
    public static bool AutoCreateSchema(this IHostEnvironment environment) => environment.IsDevelopment();

    public static WebApplicationBuilder ApplySchemaPolicy(this WebApplicationBuilder builder)
    {
        if (!builder.Environment.AutoCreateSchema())
            builder.Services.ConfigureWolverine(opts => opts.AutoBuildMessageStorageOnStartup = AutoCreate.None);
        return builder;
    }
}
