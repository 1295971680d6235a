namespace OrderEvents.Tests.Support;

/// <summary>A test that takes the broker down: it needs the embedded one, so it is skipped against KAFKA_BROKERS.</summary>
public sealed class EmbeddedBrokerFactAttribute : FactAttribute
{
    public EmbeddedBrokerFactAttribute()
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("KAFKA_BROKERS")))
            Skip = "Needs the embedded broker (KAFKA_BROKERS is set)";
    }
}
