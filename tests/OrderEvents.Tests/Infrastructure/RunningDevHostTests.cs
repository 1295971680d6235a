using System.Diagnostics;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// A development host announces itself in a file beside its data folder. A file whose process is gone is stale: a
/// restarted host then owns (and later stops) the PostgreSQL server the dead one left, and commands do not use its broker.
/// </summary>
public sealed class RunningDevHostTests : IDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "orderevents-announce-" + Guid.NewGuid().ToString("N")[..12], "postgres");

    [LinuxOnlyFact]
    public void a_host_killed_but_not_yet_reaped_by_its_parent_is_not_running()
    {
        // `sh` starts `sleep` in the background, then becomes a `sleep` that never waits for it: the background sleep,
        // once killed, stays a zombie (as a killed host does until a container's init reaps it) until its parent exits.
        using var parent = Process.Start(new ProcessStartInfo("sh", ["-c", "sleep 60 & echo $!; exec sleep 30"]) { RedirectStandardOutput = true })!;
        try
        {
            var orphan = int.Parse(parent.StandardOutput.ReadLine()!);
            Announce(orphan);
            RunningDevHost.Find(_dataDirectory).ShouldNotBeNull("a live process's announcement is found (positive control)");

            Process.Start("kill", ["-9", orphan.ToString()])!.WaitForExit();
            WaitUntil(() => File.ReadAllText($"/proc/{orphan}/stat").Contains(") Z"), "the killed process to become a zombie");

            RunningDevHost.Find(_dataDirectory).ShouldBeNull("a killed, unreaped process is not a running host");
        }
        finally
        {
            parent.Kill();
        }
    }

    [LinuxOnlyFact]
    public void a_host_whose_process_is_gone_is_not_running()
    {
        using var gone = Process.Start(new ProcessStartInfo("true"))!;
        gone.WaitForExit();
        Announce(gone.Id);
        RunningDevHost.Find(_dataDirectory).ShouldBeNull();
    }

    private void Announce(int processId) => RunningDevHost.Write(_dataDirectory, processId, "127.0.0.1:9092");

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException($"Waited 10 s for {what}");
            Thread.Sleep(20);
        }
    }

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_dataDirectory)!, recursive: true);
}
