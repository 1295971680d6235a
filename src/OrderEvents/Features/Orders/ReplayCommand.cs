using JasperFx.CommandLine;

namespace OrderEvents.Features.Orders;

public class ReplayInput : NetCoreInput
{
    [Description("Only this order's events")]
    public long? OrderFlag { get; set; }

    [Description("Only events stored at or after this time (ISO-8601, e.g. 2026-11-28T10:00:00Z)")]
    public string? SinceFlag { get; set; }
}

/// <summary>
/// `replay [--order N] [--since TIME]` beside the live service, with its environment: it starts only Wolverine (as
/// CommandLineSetup.ConfigureForCommand configures it), so each page is sent to Kafka when it commits.
/// </summary>
[Description("Re-publishes order events from the event log to Kafka (all, one order, or since a time)", Name = "replay")]
public class ReplayCommand : JasperFxAsyncCommand<ReplayInput>
{
    private static readonly Uri OrderEventsTopic = new($"kafka://topic/{KafkaSettings.OrderEventsTopic}");

    public override async Task<bool> Execute(ReplayInput input)
    {
        DateTimeOffset? since = null;
        if (input.SinceFlag is { } text)
        {
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                await Console.Error.WriteLineAsync($"--since: '{text}' is not a date and time (use ISO-8601, e.g. 2026-11-28T10:00:00Z)");
                return false;
            }

            since = parsed;
        }

        using var host = input.BuildHost();
        if (!host.Services.GetRequiredService<KafkaSettings>().Enabled)
        {
            await Console.Error.WriteLineAsync("replay publishes to Kafka, and KAFKA_ENABLED=false: there is no topic to publish to " +
                "(events go straight to the notification handler through a durable local queue). Nothing was published.");
            return false;
        }

        // Not host.StartAsync(): that would start the web server, on the port the live service holds.
        var wolverine = host.Services.GetRequiredService<IWolverineRuntime>();
        await ((IHostedService)wolverine).StartAsync(CancellationToken.None);
        try
        {
            var count = await host.Services.GetRequiredService<OrderEventReplay>()
                .ReplayAsync(new ReplayFilter(input.OrderFlag, since), skip: null, CancellationToken.None);
            var unsent = (await wolverine.Storage.Outbox.LoadOutgoingAsync(OrderEventsTopic)).Count;
            if (unsent > 0)
            {
                await Console.Error.WriteLineAsync($"{unsent} order events wait in the outbox: Kafka did not take them (see the errors above). " +
                    "The running service sends them.");
                return false;
            }

            Console.WriteLine($"Replayed {count} order events to Kafka");
            return true;
        }
        finally
        {
            await ((IHostedService)wolverine).StopAsync(CancellationToken.None);
        }
    }
}
