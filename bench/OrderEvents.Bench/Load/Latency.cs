using HdrHistogram;

namespace OrderEvents.Bench.Load;

/// <summary>A thread-safe HdrHistogram of latencies in microseconds (1 µs .. 10 min, 3 significant digits).</summary>
public sealed class Latency
{
    private readonly LongHistogram _histogram = new(1, 600_000_000, 3);

    public void Record(double milliseconds)
    {
        var micros = Math.Clamp((long)(milliseconds * 1000), 1, 600_000_000);
        lock (_histogram) _histogram.RecordValue(micros);
    }

    public void RecordAll(IEnumerable<double> milliseconds)
    {
        foreach (var value in milliseconds) Record(value);
    }

    public long Count
    {
        get { lock (_histogram) return _histogram.TotalCount; }
    }

    public Percentiles Summary()
    {
        lock (_histogram)
        {
            if (_histogram.TotalCount == 0) return Percentiles.None;
            double At(double p) => _histogram.GetValueAtPercentile(p) / 1000.0;
            return new Percentiles(_histogram.TotalCount, At(50), At(95), At(99), _histogram.GetMaxValue() / 1000.0);
        }
    }
}

public sealed record Percentiles(long Count, double P50, double P95, double P99, double Max)
{
    public static readonly Percentiles None = new(0, double.NaN, double.NaN, double.NaN, double.NaN);
}
