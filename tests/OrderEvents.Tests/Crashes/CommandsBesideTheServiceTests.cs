using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Transports;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Crashes;

/// <summary>
/// The maintenance commands (`replay`, `dlq-list`, `dlq-redrive`) run beside the live service as an operator runs them:
/// the service's own build and environment (the same ASPNETCORE_URLS, connection string, brokers and group), against a
/// standalone broker. While a command runs, Wolverine's node table is sampled; afterwards the ports it opened, the live
/// service's log (a rebalance of the live group shows there: librdkafka's mock broker cannot describe groups) and the
/// notifications are checked. A positive control at the end shows that the log does see a consumer joining the group.
/// </summary>
[Trait("Category", "Crashes")]
[Collection(CrashCollection.Name)]
public sealed class CommandsBesideTheServiceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    private const string ListenerStarted = "Started message listening at kafka://topic/" + KafkaSettings.OrderEventsTopic;

    /// <summary>
    /// Behind the replayed record the test puts a marker on the same partition (the order's next event, same key); the
    /// live consumer takes a partition in order, so once the marker is notified the replayed record was consumed too.
    /// </summary>
    [Fact]
    public async Task replay_beside_the_live_service_republishes_with_the_original_ids_and_leaves_the_service_alone()
    {
        await using var live = await LiveService.StartAsync(output);
        var (token, orderId) = await live.PlaceNotifiedOrderAsync();
        await live.PlaceNotifiedOrderAsync();
        var eventId = (Guid)(await Sql.ScalarAsync(live.Database, $"select id from orderevents.mt_events where stream_id = '{orderId}'"))!;

        var replay = await live.RunBesideAsync("replay", "--order", orderId.ToString());
        replay.Output.ShouldContain("Replayed 1 order events to Kafka");

        await live.PayAndWaitUntilNotifiedAsync(token, orderId);
        (await Sql.ScalarAsync(live.Database, $"select count(*) from notifications.notifications where order_id = {orderId}")).ShouldBe(2L,
            "one ORDER_CREATED and one ORDER_PAID: the replayed record made no new notification");
        (await live.Log.CreatedNotifications()).ShouldBe(2);
        (await live.Log.Unnotified()).ShouldBe(0);
        (await live.Log.Orphans()).ShouldBe(0);
        live.AssertQuietSinceTheCommands();

        // On the partition: the event as first published, the replayed copy (same key, same event id), then the marker.
        // A live node's recovery pass may take the replay's outbox row in the moment before the replay's own send deletes
        // it: the copy is then on the topic twice, which the consumer absorbs (counted above). Read up to the marker.
        var records = new KafkaProbe(live.Broker.BootstrapServers).ReadUntil(KafkaSettings.OrderEventsTopic,
            record => record.Message.Key == orderId.ToString(), count: 4, timeoutSeconds: 5);
        var isTheEvent = records.Select(r => Encoding.UTF8.GetString(r.Message.Value).Contains(eventId.ToString())).ToList();
        records.Count.ShouldBeInRange(3, 4, "first publication, the replayed copy (once, at most twice), marker");
        isTheEvent.ShouldBe(Enumerable.Repeat(true, records.Count - 1).Append(false).ToList(), "first publication, the replayed copy, marker");
        records.Select(r => r.Offset.Value).ShouldBeInOrder();
        records.Select(r => r.Partition.Value).Distinct().ShouldHaveSingleItem();
        // The replayed copy is the record the live outbox made, byte for byte, with the headers the listener reads; its
        // envelope id is new (the live inbox does not take it for a redelivery of the same envelope).
        string Header(int record, string name) => Encoding.UTF8.GetString(records[record].Message.Headers.GetLastBytes(name));
        foreach (var copy in Enumerable.Range(1, records.Count - 2))
        {
            records[copy].Message.Value.ShouldBe(records[0].Message.Value);
            Header(copy, "message-type").ShouldBe(Header(0, "message-type"));
            Header(copy, "content-type").ShouldBe(Header(0, "content-type"));
            Header(copy, "id").ShouldNotBe(Header(0, "id"));
        }

        await live.ProveTheWatchersSeeAConsumerJoiningAsync();
    }

    /// <summary>
    /// A record dead-lettered earlier (say during an outage) whose event was notified meanwhile: listed and re-driven
    /// beside the service, absorbed as a duplicate (no new notification, nothing logged above Information).
    /// </summary>
    [Fact]
    public async Task the_dead_letter_commands_beside_the_live_service_leave_it_alone()
    {
        await using var live = await LiveService.StartAsync(output);
        var (token, orderId) = await live.PlaceNotifiedOrderAsync();
        var published = new KafkaProbe(live.Broker.BootstrapServers)
            .ReadUntil(KafkaSettings.OrderEventsTopic, record => record.Message.Key == orderId.ToString()).ShouldHaveSingleItem();
        var marker = "SimulatedOutage" + Guid.NewGuid().ToString("N")[..8];
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = live.Broker.BootstrapServers }).Build())
        {
            await producer.ProduceAsync(KafkaSettings.DeadLetterTopic, new Message<string, byte[]>
            {
                Key = published.Message.Key,
                Value = published.Message.Value,
                Headers = new Headers
                {
                    { DeadLetterQueueConstants.ExceptionTypeHeader, Encoding.UTF8.GetBytes("OrderEvents.Tests." + marker) },
                    { DeadLetterQueueConstants.ExceptionMessageHeader, Encoding.UTF8.GetBytes("the database was away") },
                },
            });
        }

        var list = await live.RunBesideAsync("dlq-list");
        list.Output.ShouldContain($"key {orderId}");
        list.Output.ShouldContain($"OrderEvents.Tests.{marker}: the database was away");
        var redrive = await live.RunBesideAsync("dlq-redrive", "--exception", marker);
        redrive.Output.ShouldContain("1 record(s) re-driven");

        await live.PayAndWaitUntilNotifiedAsync(token, orderId);
        (await Sql.ScalarAsync(live.Database, $"select count(*) from notifications.notifications where order_id = {orderId}")).ShouldBe(2L,
            "one ORDER_CREATED and one ORDER_PAID: the re-driven record made no new notification");
        (await live.Log.Orphans()).ShouldBe(0);
        live.AssertQuietSinceTheCommands();

        await live.ProveTheWatchersSeeAConsumerJoiningAsync();
    }

    [Fact]
    public async Task replay_without_kafka_refuses_saying_why_and_starts_nothing()
    {
        var settings = AppProcess.ServiceSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = "Host=127.0.0.1;Port=9;Database=never-reached",
            ["KAFKA_ENABLED"] = "false",
        });
        await using var replay = AppProcess.Start(["replay"], settings, "replay", output, assembly: BuiltApp.AssemblyPath);
        (await replay.WaitForExitAsync(Deadline)).ShouldBe(1, replay.Output);
        replay.Errors.ShouldContain(line => line.Contains("KAFKA_ENABLED=false") && line.Contains("Nothing was published"), replay.Output);
        replay.ListeningPortsSeen.ShouldBeEmpty();
    }

    /// <summary>The service (its own build, not the development host) on a fresh database and a standalone broker.</summary>
    private sealed class LiveService : IAsyncDisposable
    {
        /// <summary>What ReassignedPartitionOffsets logs (at Debug) when the live consumer is given partitions again: a rebalance.</summary>
        private const string RebalanceLine = "assigned: their offset tracking starts again";

        private readonly ITestOutputHelper _output;
        private readonly Dictionary<string, string?> _settings;
        private readonly string _groupId;
        private int _firstLineOfTheCommands = -1;

        private LiveService(ITestOutputHelper output, string database, StandaloneBroker broker, AppProcess app, Dictionary<string, string?> settings, string groupId)
        {
            _output = output;
            Database = database;
            Broker = broker;
            App = app;
            _settings = settings;
            _groupId = groupId;
            Log = new EventLog(database);
        }

        public string Database { get; }
        public StandaloneBroker Broker { get; }
        public AppProcess App { get; }
        public EventLog Log { get; }

        public static async Task<LiveService> StartAsync(ITestOutputHelper output)
        {
            var database = await TestPostgres.CreateDatabaseAsync();
            var broker = await StandaloneBroker.StartAsync();
            try
            {
                var groupId = "live-" + Guid.NewGuid().ToString("N")[..8];
                var settings = AppProcess.ServiceSettings(new Dictionary<string, string?>
                {
                    ["ConnectionStrings__Postgres"] = database,
                    ["KAFKA_BROKERS"] = broker.BootstrapServers,
                    ["KAFKA_GROUP_ID"] = groupId,
                    ["Logging__LogLevel__OrderEvents.Infrastructure.Kafka.ReassignedPartitionOffsets"] = "Debug",
                    // Each listener Wolverine starts says so ("Started message listening at ..."), the commands' too.
                    ["Logging__LogLevel__Wolverine.Transports.ListeningAgent"] = "Information",
                });
                var app = await AppProcess.ServeAsync(settings, "service", output, assembly: BuiltApp.AssemblyPath);
                // The commands get the service's whole environment, its address included.
                settings["ASPNETCORE_URLS"] = app.BaseAddress;
                return new LiveService(output, database, broker, app, settings, groupId);
            }
            catch
            {
                await broker.DisposeAsync();
                throw;
            }
        }

        public async Task<(string Token, long OrderId)> PlaceNotifiedOrderAsync()
        {
            var token = await App.RegisterAndLoginAsync($"beside-{Guid.NewGuid():N}@tests.local");
            using var placed = await App.PlaceOrderAsync(token);
            placed.StatusCode.ShouldBe(HttpStatusCode.Created);
            var orderId = (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
            (await Log.WaitUntilEveryEventIsNotified(DateTime.UtcNow, Deadline)).ShouldNotBeNull("the order's notification");
            return (token, orderId);
        }

        /// <summary>
        /// Runs the command with the service's environment to its end (exit code 0), sampling Wolverine's nodes meanwhile
        /// (no node added) and watching its ports (none opened); the live group is checked through the service's log.
        /// </summary>
        public async Task<AppProcess> RunBesideAsync(params string[] arguments)
        {
            if (_firstLineOfTheCommands < 0) _firstLineOfTheCommands = App.Lines.Count;

            var nodes = await NodesAsync();
            await using var command = AppProcess.Start(arguments, _settings, arguments[0], _output, assembly: BuiltApp.AssemblyPath);
            var samples = new List<long>();
            do
            {
                samples.Add(await NodesAsync());
                await Task.Delay(20); // sampling interval: leaves the 2 cores to the command
            }
            while (!command.HasExited);

            (await command.WaitForExitAsync(Deadline)).ShouldBe(0, command.Output);
            _output.WriteLine($"{arguments[0]}: {samples.Count} samples of the node table while it ran");
            command.Lines.ShouldNotContain(line => line.Contains(ListenerStarted), $"{arguments[0]} started a Kafka listener (it would join the live group)");
            // Positive control of the listener check: the live service logged its own listener's start.
            App.Lines.ShouldContain(line => line.Contains(ListenerStarted));
            samples.Distinct().ShouldBe([nodes], $"{arguments[0]} ran a Wolverine node of its own");
            command.ListeningPortsSeen.ShouldBeEmpty($"{arguments[0]} opened a port");
            // Positive control of the port sampler: it sees the live service's port.
            App.ListeningPortsSeen.ShouldContain(new Uri(App.BaseAddress).Port);
            return command;
        }

        public async Task PayAndWaitUntilNotifiedAsync(string token, long orderId)
        {
            using (var pay = new HttpRequestMessage(HttpMethod.Patch, $"/api/orders/{orderId}/pay"))
            {
                pay.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                (await App.Client.SendAsync(pay)).StatusCode.ShouldBe(HttpStatusCode.OK);
            }

            await App.WaitUntilAsync(async () => (long)(await Sql.ScalarAsync(Database,
                    $"select count(*) from notifications.notifications where order_id = {orderId} and type = 'ORDER_PAID'"))! > 0,
                Deadline, "the marker (ORDER_PAID) to be notified");
        }

        /// <summary>The live service's log since the first command: nothing above Information, no rebalance.</summary>
        public void AssertQuietSinceTheCommands()
        {
            var since = App.Lines.Skip(_firstLineOfTheCommands).ToList();
            since.Where(line => line.StartsWith("warn:") || line.StartsWith("fail:") || line.StartsWith("crit:"))
                .ShouldBeEmpty($"the live service's log during the commands:\n{string.Join('\n', since)}");
            since.ShouldNotContain(line => line.Contains(RebalanceLine), "the live consumer was rebalanced");
        }

        /// <summary>
        /// Positive control: a consumer that does join the live group (as a command with a listener would) shows in the
        /// live service's log (its partitions assigned again).
        /// </summary>
        public async Task ProveTheWatchersSeeAConsumerJoiningAsync()
        {
            var before = App.Lines.Count;
            using var intruder = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
            {
                BootstrapServers = Broker.BootstrapServers,
                GroupId = _groupId,
                EnableAutoCommit = false,
                SessionTimeoutMs = 6000,
                HeartbeatIntervalMs = 500,
            }).Build();
            intruder.Subscribe(KafkaSettings.OrderEventsTopic);
            var deadline = DateTime.UtcNow + Deadline;
            while (!App.Lines.Skip(before).Any(line => line.Contains(RebalanceLine)) && DateTime.UtcNow < deadline)
                intruder.Consume(TimeSpan.FromMilliseconds(100)); // takes part in the join; commits nothing
            App.Lines.Skip(before).ShouldContain(line => line.Contains(RebalanceLine), "the live service did not log the new assignment");
            intruder.Close();
        }

        private async Task<long> NodesAsync() => (long)(await Sql.ScalarAsync(Database, "select count(*) from orderevents.wolverine_nodes"))!;

        public async ValueTask DisposeAsync()
        {
            try
            {
                await App.DisposeAsync();
            }
            finally
            {
                await Broker.DisposeAsync();
            }
        }
    }
}
