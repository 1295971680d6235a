using System.Data.Common;
using Microsoft.Extensions.Primitives;

namespace OrderEvents.Infrastructure.Hosting;

/// <summary>`describe` prints every configuration value (environment variables too): for that command the configuration is a masked view.</summary>
public static class SecretMasking
{
    private const string Mask = "*****";

    private static readonly string[] SecretKeyParts = ["signingkey", "password", "secret", "apikey", "pwd"];

    private static bool IsSecretKey(string key) =>
        SecretKeyParts.Any(part => key.Replace("_", "").Contains(part, StringComparison.OrdinalIgnoreCase));

    /// <summary>The value as it may be shown: masked when secret; connection strings keep everything but passwords.</summary>
    private static string? MaskValue(string key, string? value) =>
        string.IsNullOrEmpty(value) ? value
        : IsSecretKey(key) ? Mask
        : key.Contains("connection", StringComparison.OrdinalIgnoreCase) ? MaskConnectionString(value)
        : value;

    private static string MaskConnectionString(string connectionString)
    {
        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
            foreach (var key in builder.Keys.Cast<string>().Where(IsSecretKey).ToList()) builder[key] = Mask;
            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return Mask; // not parseable: show nothing of it
        }
    }

    public static WebApplicationBuilder MaskSecretsInDescribe(this WebApplicationBuilder builder, string[] args)
    {
        if (args.FirstOrDefault()?.Equals("describe", StringComparison.OrdinalIgnoreCase) == true)
        {
            var root = (IConfigurationRoot)builder.Configuration;
            builder.Services.AddSingleton<IConfiguration>(_ => new ConfigurationRoot(root.Providers.Select(p => (IConfigurationProvider)new MaskingProvider(p)).ToList()));
        }

        return builder;
    }

    // Wraps each provider, so `describe` still shows where every value came from.
    private sealed class MaskingProvider(IConfigurationProvider inner) : IConfigurationProvider
    {
        public bool TryGet(string key, out string? value)
        {
            var found = inner.TryGet(key, out value);
            value = MaskValue(key, value);
            return found;
        }

        public void Set(string key, string? value) => inner.Set(key, value);
        public IChangeToken GetReloadToken() => inner.GetReloadToken();
        public void Load() { } // already loaded by the real configuration
        public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) => inner.GetChildKeys(earlierKeys, parentPath);
        public override string ToString() => inner.ToString() ?? nameof(MaskingProvider);
    }
}
