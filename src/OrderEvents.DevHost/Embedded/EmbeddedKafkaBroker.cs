using System.Runtime.InteropServices;
using OrderEvents.Infrastructure.Kafka;

namespace OrderEvents.DevHost.Embedded;

/// <summary>
/// An in-process Kafka-protocol broker: librdkafka's mock cluster (rdkafka_mock.h), reached by P/Invoke
/// through the very librdkafka that Confluent.Kafka loaded. Any Kafka client (ours, kcat, another process)
/// can use <see cref="BootstrapServers"/> while this object lives. It keeps records in memory only.
/// It is our development and test broker: a real Kafka is used whenever KAFKA_BROKERS is set.
/// </summary>
public sealed class EmbeddedKafkaBroker : IDisposable
{
    private const int BrokerId = 1;
    private readonly IntPtr _client;
    private IntPtr _cluster;

    private EmbeddedKafkaBroker()
    {
        var errors = new byte[512];
        var conf = RdKafka.ConfNew();
        // This handle never connects anywhere; keep librdkafka from warning that it has no bootstrap.servers.
        if (RdKafka.ConfSet(conf, "log_level", "3", errors, (nuint)errors.Length) != 0)
            throw new InvalidOperationException("librdkafka refused log_level=3: " + RdKafka.Text(errors));
        // The mock cluster needs a client handle to hang its threads and logs on; a producer is the lightest.
        _client = RdKafka.New(0 /* RD_KAFKA_PRODUCER */, conf, errors, (nuint)errors.Length);
        if (_client == IntPtr.Zero) throw new InvalidOperationException("librdkafka could not create a client: " + RdKafka.Text(errors));

        _cluster = RdKafka.MockClusterNew(_client, 1);
        if (_cluster == IntPtr.Zero)
        {
            RdKafka.Destroy(_client);
            throw new InvalidOperationException("librdkafka could not create its mock cluster");
        }

        BootstrapServers = Marshal.PtrToStringUTF8(RdKafka.MockClusterBootstraps(_cluster))!;
        // Consumers join a group at once instead of waiting the broker's default 3 s for more members.
        RdKafka.MockGroupInitialRebalanceDelayMs(_cluster, 0);
    }

    public string BootstrapServers { get; }

    /// <summary>A broker with every topic of the service created (the mock implements no CreateTopics).</summary>
    public static EmbeddedKafkaBroker StartWithServiceTopics()
    {
        var broker = new EmbeddedKafkaBroker();
        foreach (var (name, partitions) in KafkaSettings.Topics)
        {
            var error = RdKafka.MockTopicCreate(broker.Cluster, name, partitions, 1);
            if (error != 0) throw new InvalidOperationException($"Creating topic '{name}' failed with librdkafka error {error}");
        }

        return broker;
    }

    /// <summary>"order-events (3 partitions), order-events.dlq (1 partitions)", for logs and the CLI.</summary>
    public static string DescribeTopics() => string.Join(", ", KafkaSettings.Topics.Select(t => $"{t.Name} ({t.Partitions} partitions)"));

    /// <summary>Makes the broker unreachable (connections are closed and refused) until <see cref="BringUp"/>.</summary>
    public void TakeDown() => RdKafka.MockBrokerSetDown(Cluster, BrokerId);

    public void BringUp() => RdKafka.MockBrokerSetUp(Cluster, BrokerId);

    private IntPtr Cluster => _cluster != IntPtr.Zero ? _cluster : throw new ObjectDisposedException(nameof(EmbeddedKafkaBroker));

    public void Dispose()
    {
        if (_cluster == IntPtr.Zero) return;
        RdKafka.MockClusterDestroy(_cluster);
        RdKafka.Destroy(_client);
        _cluster = IntPtr.Zero;
    }
}

/// <summary>
/// The functions of the librdkafka that Confluent.Kafka loaded. The name "librdkafka" alone would not find it:
/// Confluent picks one of several bundled builds (on Debian the centos8 one, since the default build needs libsasl2),
/// so the name is resolved to the file the process mapped.
/// </summary>
internal static partial class RdKafka
{
    private const string Library = "librdkafka";

    static RdKafka() => NativeLibrary.SetDllImportResolver(typeof(RdKafka).Assembly,
        (name, _, _) => name == Library ? NativeLibrary.Load(LocateLoadedLibrary()) : IntPtr.Zero);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_new")]
    internal static partial IntPtr ConfNew();

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ConfSet(IntPtr conf, string name, string value, [Out] byte[] errors, nuint errorsSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_new")]
    internal static partial IntPtr New(int type, IntPtr conf, [Out] byte[] errors, nuint errorsSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_destroy")]
    internal static partial void Destroy(IntPtr client);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_new")]
    internal static partial IntPtr MockClusterNew(IntPtr client, int brokerCount);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_destroy")]
    internal static partial void MockClusterDestroy(IntPtr cluster);

    // A pointer into the cluster (not to be freed), hence no string marshalling.
    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_bootstraps")]
    internal static partial IntPtr MockClusterBootstraps(IntPtr cluster);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_topic_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MockTopicCreate(IntPtr cluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_group_initial_rebalance_delay_ms")]
    internal static partial void MockGroupInitialRebalanceDelayMs(IntPtr cluster, int delayMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_down")]
    internal static partial int MockBrokerSetDown(IntPtr cluster, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_up")]
    internal static partial int MockBrokerSetUp(IntPtr cluster, int brokerId);

    /// <summary>The NUL-terminated message librdkafka wrote into an error buffer.</summary>
    internal static string Text(byte[] errors) => System.Text.Encoding.UTF8.GetString(errors, 0, Math.Max(0, Array.IndexOf(errors, (byte)0)));

    private static string LocateLoadedLibrary()
    {
        // Touching the version makes Confluent.Kafka load its native library (once per process).
        _ = Confluent.Kafka.Library.Version;

        if (OperatingSystem.IsLinux())
        {
            var mapped = File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields.Length >= 6)
                .Select(fields => string.Join(' ', fields.Skip(5)))
                .FirstOrDefault(path => Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal));
            if (mapped != null) return mapped;
        }

        // Elsewhere: the same probing order as Confluent.Kafka over the librdkafka.redist files next to us.
        var native = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native");
        var candidate = Directory.Exists(native)
            ? Directory.EnumerateFiles(native, "*rdkafka*").FirstOrDefault()
            : null;
        return candidate ?? throw new DllNotFoundException("librdkafka was loaded by Confluent.Kafka but its file could not be located");
    }
}
