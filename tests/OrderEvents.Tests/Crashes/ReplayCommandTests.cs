using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Crashes;

/// <summary>`OrderEvents replay` against a real (standalone) broker, as an operator would run it.</summary>
[Trait("Category", "Crashes")]
[Collection(CrashCollection.Name)]
public sealed class ReplayCommandTests(ITestOutputHelper output)
{
    [Fact]
    public async Task the_replay_command_republishes_one_orders_events_and_creates_no_new_notification()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        await using var broker = await StandaloneBroker.StartAsync();
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["KAFKA_BROKERS"] = broker.BootstrapServers,
            ["KAFKA_GROUP_ID"] = "replay-" + Guid.NewGuid().ToString("N")[..8],
        };

        long orderId;
        await using (var app = new AppProcess("app", settings, output))
        {
            await app.StartAsync();
            var token = await app.RegisterAndLoginAsync($"replay-{Guid.NewGuid():N}@tests.local");
            using var placed = await app.PlaceOrderAsync(token);
            placed.StatusCode.ShouldBe(HttpStatusCode.Created);
            orderId = (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
            using var other = await app.PlaceOrderAsync(token);
            (await log.WaitUntilEveryEventIsNotified(DateTime.UtcNow, TimeSpan.FromSeconds(45))).ShouldNotBeNull();
        }

        var eventId = (Guid)(await Sql.ScalarAsync(database, $"select id from orderevents.mt_events where stream_id = '{orderId}'"))!;
        var replay = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { BuiltApp.AssemblyPath, "replay", "--order", orderId.ToString() }) replay.ArgumentList.Add(argument);
        foreach (var (key, value) in settings) replay.Environment[key] = value;
        replay.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        using var process = Process.Start(replay)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        output.WriteLine(await stdout);
        process.ExitCode.ShouldBe(0, await stderr);
        (await stdout).ShouldContain("Replayed 1 order events to Kafka");

        // The record is on the topic twice now (first published, then replayed), same key, same event id.
        var records = new KafkaProbe(broker.BootstrapServers).ReadUntil(KafkaSettings.OrderEventsTopic,
            record => Encoding.UTF8.GetString(record.Message.Value).Contains(eventId.ToString()), count: 2);
        records.Count.ShouldBe(2);
        records.ShouldAllBe(record => record.Message.Key == orderId.ToString());
        (await log.CreatedNotifications()).ShouldBe(2);
        (await log.Orphans()).ShouldBe(0);
    }
}
