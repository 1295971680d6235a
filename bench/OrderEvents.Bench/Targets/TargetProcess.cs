using OrderEvents.Bench.Harness;

namespace OrderEvents.Bench.Targets;

/// <summary>A system under test, running as a child process on its own loopback port and database.</summary>
public sealed class TargetProcess(string name, string database, NotificationStore store, ChildProcess process, Uri baseAddress) : IDisposable
{
    public string Name { get; } = name;
    public string Database { get; } = database;
    public NotificationStore Store { get; } = store;
    public ChildProcess Process { get; } = process;
    public Uri BaseAddress { get; } = baseAddress;

    public void Dispose() => Process.Dispose();
}
