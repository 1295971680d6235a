using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("OrderEvents.Tests.Support.TestRunCleanup", "OrderEvents.Tests")]

namespace OrderEvents.Tests.Support;

/// <summary>
/// xunit's framework object lives for the whole run and is disposed when it ends, inside the test host: the one
/// place to tear down what all collections share (process-exit handlers are cut short by the runner).
/// </summary>
public sealed class TestRunCleanup(IMessageSink messageSink) : XunitTestFramework(messageSink), IDisposable
{
    // Re-implements IDisposable so the runner's Dispose() call reaches this method.
    void IDisposable.Dispose()
    {
        // Every child is stopped by its test; one still alive here is a test's bug, reported and killed.
        foreach (var leftover in AppProcess.KillLeftovers())
            DiagnosticMessageSink.OnMessage(new DiagnosticMessage($"Killed a child process a test left running: {leftover}"));
        PublishedApp.Remove();
        TestPostgres.Stop();
        Dispose();
    }
}
