using System.Collections.ObjectModel;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace OrderEvents.Tests.Support;

/// <summary>
/// The app's OpenTelemetry pipeline with in-memory exporters added beside its own configuration: what would go to
/// an OTLP collector lands here.
/// </summary>
public sealed class ExportedTelemetry
{
    private readonly LockedList<Activity> _spans = new();
    private readonly List<Metric> _metrics = [];
    private MeterProvider? _meterProvider;

    public void CollectFrom(IServiceCollection services)
    {
        services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(_spans));
        services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddInMemoryExporter(_metrics));
        services.AddSingleton<ILoggerProvider>(Logs);
    }

    /// <summary>Every log entry with the scope values it was written under (what a scope-aware sink records).</summary>
    public CapturedLogs Logs { get; } = new();

    public IReadOnlyList<Activity> Spans => _spans.Snapshot();

    /// <summary>Polls (with a deadline) until the finished spans satisfy <paramref name="complete"/>.</summary>
    public async Task<IReadOnlyList<Activity>> WaitForSpans(Func<IReadOnlyList<Activity>, bool> complete, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var spans = Spans;
            if (complete(spans)) return spans;
            if (DateTime.UtcNow > deadline) return spans;
            await Task.Delay(50);
        }
    }

    /// <summary>Collects every instrument now and returns the names of those that reported.</summary>
    public IReadOnlySet<string> FlushMetricNames(IServiceProvider services)
    {
        _meterProvider ??= services.GetRequiredService<MeterProvider>();
        lock (_metrics)
        {
            _metrics.Clear();
            _meterProvider.ForceFlush(10_000).ShouldBeTrue();
            return _metrics.Select(m => m.Name).ToHashSet();
        }
    }

    public sealed record LogEntry(string Category, LogLevel Level, string Message, IReadOnlyDictionary<string, object?> Scope);

    public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
    {
        private readonly LockedList<LogEntry> _entries = new();
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public IReadOnlyList<LogEntry> Entries => _entries.Snapshot();

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, CapturedLogs owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var scope = new Dictionary<string, object?>();
                owner._scopes.ForEachScope((value, values) =>
                {
                    if (value is IEnumerable<KeyValuePair<string, object?>> pairs)
                        foreach (var (key, item) in pairs) values[key] = item;
                    else if (value is IEnumerable<KeyValuePair<string, object>> objects)
                        foreach (var (key, item) in objects) values[key] = item;
                }, scope);
                owner._entries.Add(new LogEntry(category, logLevel, formatter(state, exception), scope));
            }
        }
    }

    /// <summary>The exporter adds spans from the threads that end them while a test reads: a list with a lock.</summary>
    private sealed class LockedList<T> : Collection<T>
    {
        protected override void InsertItem(int index, T item)
        {
            lock (this) base.InsertItem(index, item);
        }

        public IReadOnlyList<T> Snapshot()
        {
            lock (this) return this.ToList();
        }
    }
}
