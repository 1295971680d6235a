using System.Globalization;
using JasperFx.Core;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// How the Kafka listener rides out a PostgreSQL outage: retry in place with these cooldowns, then pause the listener
/// and take the same record again. Configuration (<c>Messaging:DatabaseRetry:DelaysMs</c>, comma-separated
/// milliseconds, and <c>Messaging:DatabaseRetry:PauseSeconds</c>) so tests can run the whole path in a second.
/// </summary>
public sealed record DatabaseRetrySettings(TimeSpan[] Delays, TimeSpan Pause)
{
    /// <summary>About a minute in place: keeps per-partition order and stays well inside Kafka's 5-minute poll interval.</summary>
    public static readonly DatabaseRetrySettings Default = new(
        [50.Milliseconds(), 250.Milliseconds(), 1.Seconds(), 2.Seconds(), 5.Seconds(),
         10.Seconds(), 10.Seconds(), 10.Seconds(), 10.Seconds(), 10.Seconds(), 10.Seconds()],
        5.Seconds());

    public static DatabaseRetrySettings From(IConfiguration configuration)
    {
        var section = configuration.GetSection("Messaging:DatabaseRetry");
        var delays = section["DelaysMs"] is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(ms => TimeSpan.FromMilliseconds(Positive(double.Parse(ms, CultureInfo.InvariantCulture), "DelaysMs")))
                .ToArray()
            : Default.Delays;
        var pause = section["PauseSeconds"] is { Length: > 0 } seconds
            ? TimeSpan.FromSeconds(Positive(double.Parse(seconds, CultureInfo.InvariantCulture), "PauseSeconds"))
            : Default.Pause;
        if (delays.Length == 0) throw new InvalidOperationException("Messaging:DatabaseRetry:DelaysMs needs at least one delay");
        return new DatabaseRetrySettings(delays, pause);
    }

    private static double Positive(double value, string key) => value > 0
        ? value
        : throw new InvalidOperationException($"Messaging:DatabaseRetry:{key} must be positive, got {value}");
}
