using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OrderEvents.Tests.Support;

/// <summary>
/// The app as users get it: `dotnet publish -c Release` of src/OrderEvents (for linux-x64 as the Dockerfile does), once per test run, into a temporary folder
/// that <see cref="TestRunCleanup"/> removes at the end.
/// </summary>
public static class PublishedApp
{
    private static readonly Lazy<Task<string>> Published = new(PublishAsync);
    private static string? _folder;

    /// <summary>The published OrderEvents.dll (published on first use).</summary>
    public static Task<string> AssemblyPathAsync() => Published.Value;

    private static async Task<string> PublishAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "orderevents-published-" + Guid.NewGuid().ToString("N")[..10]);
        var project = Path.Combine(BuiltApp.RepositoryRoot, "src", "OrderEvents", "OrderEvents.csproj");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "publish", project, "-c", "Release", "-o", _folder, "--nologo", "-v", "q" }) start.ArgumentList.Add(argument);
        // As the Dockerfile publishes it on linux-x64: ReadyToRun (precompiled), which is what a restart's start-up costs.
        if (OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64)
            foreach (var argument in new[] { "-r", "linux-x64", "--self-contained", "false" }) start.ArgumentList.Add(argument);
        // The test host's own MSBuild and test-platform variables would point the nested build at the wrong tools.
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>()
                     .Where(n => n.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || n.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)))
            start.Environment.Remove(name);
        using var publish = Process.Start(start)!;
        var stdout = publish.StandardOutput.ReadToEndAsync();
        var stderr = publish.StandardError.ReadToEndAsync();
        try
        {
            await publish.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        }
        catch (TimeoutException)
        {
            publish.Kill(entireProcessTree: true);
            throw;
        }

        publish.ExitCode.ShouldBe(0, await stdout + await stderr);
        var assembly = Path.Combine(_folder, "OrderEvents.dll");
        File.Exists(assembly).ShouldBeTrue();
        return assembly;
    }

    public static void Remove()
    {
        if (_folder is not null) AppProcess.RemoveFolder(_folder);
    }
}
