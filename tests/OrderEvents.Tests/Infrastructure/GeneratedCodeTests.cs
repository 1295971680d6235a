using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// Release builds run the Wolverine handler code committed in src/OrderEvents/Internal/Generated (TypeLoadMode.Static).
/// It must be what `codegen write` produces from the current handlers and endpoints, or a Release build runs stale
/// code. Both hosts must generate that same code: the development host composes the service the same way, and adds no
/// Wolverine endpoint or handler of its own. Fix a failure with: dotnet run --project src/OrderEvents -- codegen write
/// </summary>
public sealed class GeneratedCodeTests
{
    [Theory]
    [InlineData("OrderEvents")]
    [InlineData("OrderEvents.DevHost")]
    public async Task the_committed_generated_code_is_what_codegen_write_produces_now(string host)
    {
        var fresh = Directory.CreateTempSubdirectory("orderevents-codegen-").FullName;
        try
        {
            var assembly = host == "OrderEvents" ? BuiltApp.AssemblyPath : BuiltApp.DevHostPath;
            await using var cli = AppProcess.Start(["codegen", "write"], new Dictionary<string, string?> { ["Codegen__OutputPath"] = fresh },
                name: $"{host} codegen write", assembly: assembly);
            (await cli.WaitForExitAsync(TimeSpan.FromMinutes(3))).ShouldBe(0, cli.Output);

            var committed = Path.Combine(Path.GetDirectoryName(BuiltApp.AssemblyPath)!.Split(Path.Combine("src", "OrderEvents", "bin"))[0],
                "src", "OrderEvents", "Internal", "Generated");
            var expected = Files(fresh);
            expected.ShouldNotBeEmpty();
            var actual = Files(committed);
            actual.Keys.ShouldBe(expected.Keys, ignoreOrder: true, "generated files added or removed: run `codegen write`");
            foreach (var (name, text) in expected)
                actual[name].ShouldBe(text, $"{name} is stale: run `dotnet run --project src/OrderEvents -- codegen write`");
        }
        finally
        {
            Directory.Delete(fresh, recursive: true);
        }
    }

    private static Dictionary<string, string> Files(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
                .ToDictionary(file => Path.GetRelativePath(root, file), file => File.ReadAllText(file).ReplaceLineEndings("\n"))
            : [];
}
