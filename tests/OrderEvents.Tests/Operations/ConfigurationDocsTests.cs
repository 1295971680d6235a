using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using OrderEvents.Features.Notifications;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;
using OrderEvents.Infrastructure.Kafka;

namespace OrderEvents.Tests.Operations;

/// <summary>The configuration table (docs/configuration.md) is checked against the settings classes, so it cannot drift.</summary>
public sealed class ConfigurationDocsTests
{
    private static readonly string Root = FindRepositoryRoot();

    /// <summary>Every settings class with the section it is bound from (null: the root, keys named per property).</summary>
    public static TheoryData<Type, string?> SettingsClasses => new()
    {
        { typeof(KafkaSettings), null },
        { typeof(DatabaseRetrySettings), DatabaseRetrySettings.Section },
        { typeof(AdmissionSettings), AdmissionSettings.Section },
        { typeof(AuthRateLimitSettings), AuthRateLimitSettings.Section },
        { typeof(NotificationStreamSettings), NotificationStreamSettings.Section },
        { typeof(JwtSettings), JwtSettings.Section },
    };

    [Theory]
    [MemberData(nameof(SettingsClasses))]
    public void every_setting_is_in_the_configuration_table(Type settings, string? section)
    {
        var table = ConfigurationTable();
        foreach (var property in Settable(settings))
        {
            var name = EnvironmentName(property, section);
            table.ShouldContain(row => row.Contains($"`{name}`"), $"docs/configuration.md has no row for {name}");
        }
    }

    [Fact]
    public void every_kafka_client_setting_is_in_the_configuration_table_with_its_defaults()
    {
        var row = ConfigurationTable().SingleOrDefault(line => line.Contains("`Kafka__FetchWaitMaxMs`"));
        row.ShouldNotBeNull("docs/configuration.md has no row for the Kafka client settings");

        var defaults = new KafkaSettings();
        var production = Section("appsettings.json");
        var development = Section("appsettings.Development.json");
        var tuning = Settable(typeof(KafkaSettings)).Where(p => EnvironmentName(p, null).StartsWith("Kafka__")).ToList();
        tuning.Count.ShouldBe(4);
        var cells = row.Split('|', StringSplitOptions.TrimEntries);
        foreach (var property in tuning)
        {
            cells[1].ShouldContain($"`Kafka__{property.Name}`");
            // appsettings.json repeats the class defaults; the table lists both environments' values in property order.
            production[property.Name].GetInt32().ShouldBe((int)property.GetValue(defaults)!, $"appsettings.json Kafka:{property.Name}");
        }

        cells[2].ShouldContain(string.Join(", ", tuning.Select(p => production[p.Name].GetInt32())));
        cells[2].ShouldContain(string.Join(", ", tuning.Select(p => development.TryGetValue(p.Name, out var v) ? v.GetInt32() : production[p.Name].GetInt32())));
    }

    private static IEnumerable<PropertyInfo> Settable(Type settings) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite);

    /// <summary>The environment variable for a property: section:key (key: its [ConfigurationKeyName], else its name), ':' as "__".</summary>
    private static string EnvironmentName(PropertyInfo property, string? section)
    {
        var key = property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
        return (section is null ? key : $"{section}:{key}").Replace(":", "__");
    }

    private static List<string> ConfigurationTable()
    {
        var page = File.ReadAllText(Path.Combine(Root, "docs", "configuration.md"));
        var start = page.IndexOf("\n## Settings", StringComparison.Ordinal);
        start.ShouldBeGreaterThan(0, "docs/configuration.md has no Settings section");
        var end = page.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return page[start..end].Split('\n').Where(line => line.StartsWith('|')).ToList();
    }

    private static Dictionary<string, JsonElement> Section(string file)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "src", "OrderEvents", file)));
        return json.RootElement.TryGetProperty("Kafka", out var section)
            ? section.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone())
            : [];
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OrderEvents.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("OrderEvents.sln not found above the test output");
    }
}
