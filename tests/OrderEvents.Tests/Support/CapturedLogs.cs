using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OrderEvents.Tests.Support;

/// <summary>Every log entry the app host writes (level, category, message, exception), for assertions on logging.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    public sealed record Entry(LogLevel Level, string Category, string Message, Exception? Exception);

    private readonly ConcurrentQueue<Entry> _entries = new();
    private readonly ConcurrentQueue<Entry> _sinceStart = new();

    /// <summary>Entries since the last <see cref="Clear"/>.</summary>
    public IReadOnlyList<Entry> Entries => _entries.ToArray();

    /// <summary>Every entry since the host was built, start-up included.</summary>
    public IReadOnlyList<Entry> All => _sinceStart.ToArray();

    public void Clear() => _entries.Clear();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, entry =>
    {
        _entries.Enqueue(entry);
        _sinceStart.Enqueue(entry);
    });

    public void Dispose() { }

    private sealed class Logger(string category, Action<Entry> write) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) write(new Entry(logLevel, category, formatter(state, exception), exception));
        }
    }
}
