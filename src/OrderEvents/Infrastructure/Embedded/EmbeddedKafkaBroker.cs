using System.Runtime.InteropServices;
using System.Text;
using OrderEvents.Infrastructure.Kafka;

namespace OrderEvents.Infrastructure.Embedded;

/// <summary>
/// An in-process Kafka-protocol broker: librdkafka's mock cluster (rdkafka_mock.h), reached by P/Invoke
/// through the very librdkafka that Confluent.Kafka loaded. Any Kafka client (ours, kcat, another process)
/// can use <see cref="BootstrapServers"/> while this object lives. It keeps records in memory only.
/// It is our development and test broker: a real Kafka is used whenever KAFKA_BROKERS is set.
/// </summary>
public sealed unsafe class EmbeddedKafkaBroker : IDisposable
{
    // The mock does not implement CreateTopics, so every topic must be created here, up front.
    private readonly IntPtr _client;
    private IntPtr _cluster;

    public EmbeddedKafkaBroker(int brokerCount = 1)
    {
        var native = RdKafkaNative.Instance;
        var errors = stackalloc byte[512];
        var conf = native.ConfNew();
        // This handle never connects anywhere; keep librdkafka from warning that it has no bootstrap.servers.
        SetConf(conf, "log_level", "3");
        // The mock cluster needs a client handle to hang its threads and logs on; a producer is the lightest.
        _client = native.New(0 /* RD_KAFKA_PRODUCER */, conf, errors, 512);
        if (_client == IntPtr.Zero)
            throw new InvalidOperationException("librdkafka could not create a client: " + Marshal.PtrToStringUTF8((IntPtr)errors));

        _cluster = native.MockClusterNew(_client, brokerCount);
        if (_cluster == IntPtr.Zero)
        {
            native.Destroy(_client);
            throw new InvalidOperationException("librdkafka could not create its mock cluster");
        }

        BrokerCount = brokerCount;
        BootstrapServers = Marshal.PtrToStringUTF8(native.MockClusterBootstraps(_cluster))!;
        // Consumers join a group at once instead of waiting the broker's default 3 s for more members.
        native.MockGroupInitialRebalanceDelayMs(_cluster, 0);
    }

    public string BootstrapServers { get; }

    /// <summary>A broker with every topic of the service created (the mock cannot auto-provision them).</summary>
    public static EmbeddedKafkaBroker StartWithServiceTopics()
    {
        var broker = new EmbeddedKafkaBroker();
        foreach (var (name, partitions) in KafkaSettings.Topics) broker.CreateTopic(name, partitions);
        return broker;
    }

    private static void SetConf(IntPtr conf, string name, string value)
    {
        var errors = stackalloc byte[512];
        fixed (byte* namePtr = Encoding.UTF8.GetBytes(name + "\0"))
        fixed (byte* valuePtr = Encoding.UTF8.GetBytes(value + "\0"))
        {
            if (RdKafkaNative.Instance.ConfSet(conf, namePtr, valuePtr, errors, 512) != 0)
                throw new InvalidOperationException($"librdkafka refused {name}={value}: " + Marshal.PtrToStringUTF8((IntPtr)errors));
        }
    }

    public int BrokerCount { get; }

    public void CreateTopic(string topic, int partitions)
    {
        var name = Encoding.UTF8.GetBytes(topic + "\0");
        fixed (byte* namePtr = name)
        {
            var error = RdKafkaNative.Instance.MockTopicCreate(Cluster, namePtr, partitions, 1);
            if (error != 0) throw new InvalidOperationException($"Creating topic '{topic}' failed with librdkafka error {error}");
        }
    }

    /// <summary>Makes every broker unreachable (connections are closed and refused) until <see cref="BringUp"/>.</summary>
    public void TakeDown()
    {
        for (var id = 1; id <= BrokerCount; id++) RdKafkaNative.Instance.MockBrokerSetDown(Cluster, id);
    }

    public void BringUp()
    {
        for (var id = 1; id <= BrokerCount; id++) RdKafkaNative.Instance.MockBrokerSetUp(Cluster, id);
    }

    /// <summary>The next <paramref name="errors"/>.Length requests of the given Kafka API (e.g. 0 = Produce) fail with these error codes.</summary>
    public void PushRequestErrors(short apiKey, params int[] errors)
    {
        fixed (int* errorsPtr = errors)
        {
            RdKafkaNative.Instance.MockPushRequestErrorsArray(Cluster, apiKey, (nuint)errors.Length, errorsPtr);
        }
    }

    private IntPtr Cluster => _cluster != IntPtr.Zero ? _cluster : throw new ObjectDisposedException(nameof(EmbeddedKafkaBroker));

    public void Dispose()
    {
        if (_cluster == IntPtr.Zero) return;
        RdKafkaNative.Instance.MockClusterDestroy(_cluster);
        RdKafkaNative.Instance.Destroy(_client);
        _cluster = IntPtr.Zero;
    }
}

/// <summary>
/// Function pointers into the librdkafka that Confluent.Kafka loaded. A plain [DllImport("librdkafka")] would
/// not find it: Confluent picks one of several bundled builds (on Debian the centos8 one, since the default
/// build needs libsasl2), so we ask the process which file it mapped.
/// </summary>
internal sealed unsafe class RdKafkaNative
{
    private static readonly Lazy<RdKafkaNative> Lazy = new(() => new RdKafkaNative(LocateLoadedLibrary()));

    public static RdKafkaNative Instance => Lazy.Value;

    public readonly delegate* unmanaged<IntPtr> ConfNew;
    public readonly delegate* unmanaged<IntPtr, byte*, byte*, byte*, nuint, int> ConfSet;
    public readonly delegate* unmanaged<int, IntPtr, byte*, nuint, IntPtr> New;
    public readonly delegate* unmanaged<IntPtr, void> Destroy;
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> MockClusterNew;
    public readonly delegate* unmanaged<IntPtr, void> MockClusterDestroy;
    public readonly delegate* unmanaged<IntPtr, IntPtr> MockClusterBootstraps;
    public readonly delegate* unmanaged<IntPtr, byte*, int, int, int> MockTopicCreate;
    public readonly delegate* unmanaged<IntPtr, int, void> MockGroupInitialRebalanceDelayMs;
    public readonly delegate* unmanaged<IntPtr, int, int> MockBrokerSetDown;
    public readonly delegate* unmanaged<IntPtr, int, int> MockBrokerSetUp;
    public readonly delegate* unmanaged<IntPtr, short, nuint, int*, void> MockPushRequestErrorsArray;

    private RdKafkaNative(string path)
    {
        var handle = NativeLibrary.Load(path);
        ConfNew = (delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(handle, "rd_kafka_conf_new");
        ConfSet = (delegate* unmanaged<IntPtr, byte*, byte*, byte*, nuint, int>)NativeLibrary.GetExport(handle, "rd_kafka_conf_set");
        New = (delegate* unmanaged<int, IntPtr, byte*, nuint, IntPtr>)NativeLibrary.GetExport(handle, "rd_kafka_new");
        Destroy = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(handle, "rd_kafka_destroy");
        MockClusterNew = (delegate* unmanaged<IntPtr, int, IntPtr>)NativeLibrary.GetExport(handle, "rd_kafka_mock_cluster_new");
        MockClusterDestroy = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(handle, "rd_kafka_mock_cluster_destroy");
        MockClusterBootstraps = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(handle, "rd_kafka_mock_cluster_bootstraps");
        MockTopicCreate = (delegate* unmanaged<IntPtr, byte*, int, int, int>)NativeLibrary.GetExport(handle, "rd_kafka_mock_topic_create");
        MockGroupInitialRebalanceDelayMs = (delegate* unmanaged<IntPtr, int, void>)NativeLibrary.GetExport(handle, "rd_kafka_mock_group_initial_rebalance_delay_ms");
        MockBrokerSetDown = (delegate* unmanaged<IntPtr, int, int>)NativeLibrary.GetExport(handle, "rd_kafka_mock_broker_set_down");
        MockBrokerSetUp = (delegate* unmanaged<IntPtr, int, int>)NativeLibrary.GetExport(handle, "rd_kafka_mock_broker_set_up");
        MockPushRequestErrorsArray = (delegate* unmanaged<IntPtr, short, nuint, int*, void>)NativeLibrary.GetExport(handle, "rd_kafka_mock_push_request_errors_array");
    }

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
