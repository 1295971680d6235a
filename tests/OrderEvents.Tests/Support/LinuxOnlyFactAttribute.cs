namespace OrderEvents.Tests.Support;

/// <summary>A test of something that exists only on Linux (the embedded PostgreSQL, /proc): skipped elsewhere, never passed.</summary>
public sealed class LinuxOnlyFactAttribute : FactAttribute
{
    public LinuxOnlyFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "Linux only";
    }
}
