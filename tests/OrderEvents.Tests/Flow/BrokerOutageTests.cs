using Confluent.Kafka;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using OrderEvents.DevHost.Flow;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Infrastructure.Kafka;

namespace OrderEvents.Tests.Flow;

/// <summary>The outage switch behind the flow page's button, on a real embedded broker, observed by a plain producer.</summary>
public sealed class BrokerOutageTests : IDisposable
{
    private readonly EmbeddedKafkaBroker _broker = EmbeddedKafkaBroker.StartWithServiceTopics();
    private readonly ApplicationLifetime _lifetime = new(NullLogger<ApplicationLifetime>.Instance);

    private BrokerOutage NewOutage() => new(_broker, TimeProvider.System, _lifetime, NullLogger<BrokerOutage>.Instance);

    [Fact]
    public async Task the_broker_is_unreachable_until_the_outage_ends_and_a_second_outage_is_refused_meanwhile()
    {
        using var outage = NewOutage();
        (await Delivers()).ShouldBeTrue();

        outage.TryStart(TimeSpan.FromSeconds(60), out var upAt).ShouldBeTrue();
        outage.UpAt.ShouldBe(upAt);
        (await Delivers()).ShouldBeFalse("a record was delivered while the broker was down");
        outage.TryStart(TimeSpan.FromSeconds(5), out var running).ShouldBeFalse();
        running.ShouldBe(upAt);

        outage.End();
        outage.UpAt.ShouldBeNull();
        (await Delivers()).ShouldBeTrue();
    }

    [Fact]
    public async Task the_broker_comes_back_by_itself_when_the_time_is_up()
    {
        using var outage = NewOutage();
        outage.TryStart(TimeSpan.FromSeconds(1), out _).ShouldBeTrue();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (outage.UpAt is not null)
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, "the broker did not come back after 1 s");
            await Task.Delay(50); // polling interval for the timer's own thread
        }

        (await Delivers()).ShouldBeTrue();
    }

    [Fact]
    public async Task stopping_the_app_brings_the_broker_back()
    {
        using var outage = NewOutage();
        outage.TryStart(TimeSpan.FromSeconds(60), out _).ShouldBeTrue();
        _lifetime.StopApplication();
        outage.UpAt.ShouldBeNull();
        (await Delivers()).ShouldBeTrue();
    }

    /// <summary>Whether a record reaches the broker within 2 s (librdkafka keeps retrying until then).</summary>
    private async Task<bool> Delivers()
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = _broker.BootstrapServers,
            MessageTimeoutMs = 2000,
            LogConnectionClose = false,
        }).SetLogHandler((_, _) => { }).Build();
        try
        {
            var result = await producer.ProduceAsync(KafkaSettings.OrderEventsTopic, new Message<string, string> { Key = "1", Value = "{}" });
            return result.Status == PersistenceStatus.Persisted;
        }
        catch (ProduceException<string, string>)
        {
            return false;
        }
    }

    public void Dispose() => _broker.Dispose();
}
