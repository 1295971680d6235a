using JasperFx;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.FileProviders;

namespace OrderEvents.DevHost;

/// <summary>What a zero-configuration development run needs beyond the service's own settings: plain configuration.</summary>
public static class DevelopmentDefaults
{
    /// <summary>Signs tokens in Development when no Jwt__SigningKey is given; public, so never supplied anywhere else.</summary>
    public const string DevelopmentSigningKey = "orderevents-development-only-signing-key-do-not-use-in-production";

    /// <summary>
    /// The service's appsettings.json and appsettings.{Environment}.json, which its project reference copies next to this
    /// assembly (under `dotnet run` the content root is this project's folder, which has none). They take the place of
    /// the host's own appsettings files, below user secrets, environment variables and the command line.
    /// </summary>
    public static WebApplicationBuilder UseServiceSettings(this WebApplicationBuilder builder)
    {
        var sources = builder.Configuration.Sources;
        var at = sources.ToList().FindLastIndex(source => source is JsonConfigurationSource) + 1;
        var files = new PhysicalFileProvider(AppContext.BaseDirectory);
        foreach (var file in new[] { "appsettings.json", $"appsettings.{builder.Environment.EnvironmentName}.json" })
            sources.Insert(at++, new JsonConfigurationSource { FileProvider = files, Path = file, Optional = true });
        return builder;
    }

    /// <summary>
    /// Defaults below every other source: the demo catalog, the notification store's migrations at start-up, the
    /// development signing key (in Development only), and `codegen write` into the service's folder, where its
    /// pre-generated code lives.
    /// </summary>
    public static WebApplicationBuilder AddDevelopmentDefaults(this WebApplicationBuilder builder, string[] args)
    {
        var defaults = new Dictionary<string, string?>
        {
            ["Catalog:SeedDemoProducts"] = "true",
            ["Notifications:MigrateOnStartup"] = "true",
        };
        if (builder.Environment.IsDevelopment()) defaults["Jwt:SigningKey"] = DevelopmentSigningKey;
        var project = JasperFxOptions.ResolveProjectRoot(builder.Environment.ContentRootPath) ?? builder.Environment.ContentRootPath;
        var generated = Path.GetFullPath(Path.Combine(project, "..", "OrderEvents", "Internal", "Generated"));
        if (args.FirstOrDefault() == "codegen" && Directory.Exists(generated)) defaults["Codegen:OutputPath"] = generated;
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = defaults });
        return builder;
    }
}
