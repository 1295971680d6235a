namespace OrderEvents.Tests.Crashes;

/// <summary>
/// The crash tests drive bursts through child processes of the app; run alongside the other collections they starve
/// the in-process hosts of the 2 cores (tracked sessions time out there). They run on their own, after the rest.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CrashCollection
{
    public const string Name = "crashes";
}
