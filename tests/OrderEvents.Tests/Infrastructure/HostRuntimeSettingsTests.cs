using System.Text.Json.Nodes;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// The runtime reads its settings from the host's own runtimeconfig.json, so the development host must carry the
/// service's (src/Directory.Build.props): without the spin limit its idle thread-pool workers spun in sched_yield,
/// 1.0-1.6 % of a core more at rest (docs/benchmarks.md, issue 23).
/// </summary>
public sealed class HostRuntimeSettingsTests
{
    [Theory]
    [InlineData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", "0")]
    [InlineData("System.GC.Server", "false")]
    public void both_hosts_run_with_the_service_runtime_settings(string setting, string expected)
    {
        foreach (var host in new[] { "OrderEvents", "OrderEvents.DevHost" })
        {
            var file = Path.Combine(AppContext.BaseDirectory, $"{host}.runtimeconfig.json");
            var settings = JsonNode.Parse(File.ReadAllText(file))!["runtimeOptions"]!["configProperties"]!;
            (settings[setting]?.ToJsonString()).ShouldBe(expected, $"{host}: {setting}");
        }
    }
}
