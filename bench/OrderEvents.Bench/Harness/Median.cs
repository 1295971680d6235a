namespace OrderEvents.Bench.Harness;

/// <summary>The one median of the bench's reports: the middle reading, or the mean of the middle two.</summary>
public static class Median
{
    public static double Of(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
