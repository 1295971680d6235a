using System.Reflection;
using System.Text.Json;
using OrderEvents.Infrastructure.Kafka;

namespace OrderEvents.Tests.Operations;

/// <summary>The README's configuration table is checked against the options classes, so it cannot drift.</summary>
public sealed class ConfigurationDocsTests
{
    private static readonly string Root = FindRepositoryRoot();

    [Fact]
    public void every_kafka_client_option_is_in_the_readme_with_its_defaults()
    {
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        var row = readme.Split('\n').SingleOrDefault(line => line.Contains("`Kafka__FetchWaitMaxMs`"));
        row.ShouldNotBeNull("the README has no row for the Kafka client options");

        var defaults = new KafkaClientOptions();
        var production = Section("appsettings.json");
        var development = Section("appsettings.Development.json");
        var properties = typeof(KafkaClientOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToList();
        properties.ShouldNotBeEmpty();
        var cells = row.Split('|', StringSplitOptions.TrimEntries);
        foreach (var property in properties)
        {
            cells[1].ShouldContain($"`Kafka__{property.Name}`");
            // appsettings.json repeats the class defaults; the README lists both environments' values in property order.
            production[property.Name].GetInt32().ShouldBe((int)property.GetValue(defaults)!, $"appsettings.json Kafka:{property.Name}");
        }

        cells[2].ShouldContain(string.Join(", ", properties.Select(p => production[p.Name].GetInt32())));
        cells[2].ShouldContain(string.Join(", ", properties.Select(p => development.TryGetValue(p.Name, out var v) ? v.GetInt32() : production[p.Name].GetInt32())));
    }

    private static Dictionary<string, JsonElement> Section(string file)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "src", "OrderEvents", file)));
        return json.RootElement.TryGetProperty(KafkaClientOptions.Section, out var section)
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
