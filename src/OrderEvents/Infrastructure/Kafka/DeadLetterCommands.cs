using JasperFx.CommandLine;

namespace OrderEvents.Infrastructure.Kafka;

public class DeadLetterInput : NetCoreInput
{
    [Description("Kafka bootstrap servers (default: KAFKA_BROKERS)")]
    public string? BrokersFlag { get; set; }

    [Description("Only records whose exception type contains this text, e.g. JsonException")]
    public string? ExceptionFlag { get; set; }

    [Description("Only the record at this offset of order-events.dlq")]
    public long? OffsetFlag { get; set; }

    [Description("The partition of --offset (order-events.dlq has one: 0)")]
    public int PartitionFlag { get; set; }

    internal List<DeadLetter> Read(string brokers) =>
    [
        .. DeadLetters.ReadAll(brokers, TimeSpan.FromSeconds(30))
            .Where(l => OffsetFlag is not { } offset || (l.Offset == offset && l.Partition == PartitionFlag))
            .Where(l => ExceptionFlag is not { } type || (l.ExceptionType ?? "").Contains(type, StringComparison.OrdinalIgnoreCase)),
    ];

    /// <summary>The broker to talk to: --brokers, else KAFKA_BROKERS.</summary>
    internal string? Brokers()
    {
        if (!string.IsNullOrWhiteSpace(BrokersFlag)) return BrokersFlag;
        using var host = BuildHost();
        var kafka = host.Services.GetRequiredService<KafkaSettings>();
        if (kafka.Enabled && !string.IsNullOrWhiteSpace(kafka.Brokers)) return kafka.Brokers;
        Console.Error.WriteLine("No broker to read: set KAFKA_BROKERS (or pass --brokers).");
        return null;
    }
}

[Description("Lists the records in order-events.dlq: position, key, exception type and message", Name = "dlq-list")]
public class DeadLetterListCommand : JasperFxAsyncCommand<DeadLetterInput>
{
    public override Task<bool> Execute(DeadLetterInput input)
    {
        if (input.Brokers() is not { } brokers) return Task.FromResult(false);
        var letters = input.Read(brokers);
        foreach (var letter in letters)
        {
            Console.WriteLine(
                $"{KafkaSettings.DeadLetterTopic} partition {letter.Partition} offset {letter.Offset}  key {letter.Key ?? "(none)"}  " +
                $"{letter.Timestamp:O}  from {KafkaSettings.OrderEventsTopic} partition {letter.OriginalPartition ?? "?"} offset {letter.OriginalOffset ?? "?"}");
            Console.WriteLine($"  {letter.ExceptionType ?? "(no exception-type header)"}: {letter.ExceptionMessage}");
            Console.WriteLine($"  value: {(letter.ValueText.Length > 200 ? letter.ValueText[..200] + "…" : letter.ValueText)}");
        }

        Console.WriteLine($"{letters.Count} dead letter(s)");
        return Task.FromResult(true);
    }
}

public class DeadLetterRedriveInput : DeadLetterInput
{
    [Description("Re-drive every record in order-events.dlq")]
    public bool AllFlag { get; set; }
}

[Description("Re-drives dead letters (one by --offset, those matching --exception, or --all) into order-events with their key and value", Name = "dlq-redrive")]
public class DeadLetterRedriveCommand : JasperFxAsyncCommand<DeadLetterRedriveInput>
{
    public override async Task<bool> Execute(DeadLetterRedriveInput input)
    {
        if (!input.AllFlag && input.OffsetFlag is null && input.ExceptionFlag is null)
        {
            await Console.Error.WriteLineAsync("Say which dead letters to re-drive: --offset N, --exception TEXT, or --all.");
            return false;
        }

        if (input.Brokers() is not { } brokers) return false;
        var letters = input.Read(brokers);
        if (letters.Count == 0)
        {
            await Console.Error.WriteLineAsync("No dead letter matches.");
            return input.AllFlag; // an empty DLQ with --all is not an error
        }

        await DeadLetters.RedriveAsync(brokers, letters);
        foreach (var letter in letters)
            Console.WriteLine($"Re-drove partition {letter.Partition} offset {letter.Offset} (key {letter.Key ?? "(none)"}) to {KafkaSettings.OrderEventsTopic}");
        Console.WriteLine($"{letters.Count} record(s) re-driven");
        return true;
    }
}
