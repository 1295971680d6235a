using System.Net;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Notifications;

/// <summary>
/// GET /api/notifications/stream: Server-Sent Events of my notifications, id = stream position, resumable with
/// Last-Event-ID. Notifications inserted with plain SQL stand for another instance: the stream learns of them only
/// through PostgreSQL (LISTEN/NOTIFY on the insert trigger), and the fixture's heartbeat (15 s, the default) is far
/// longer than the deadlines here, so the fallback poll cannot be what delivers them.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class NotificationStreamTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    private HttpClient Client => Host.Server.CreateClient();

    private async Task<SseClient> Connect(TestUser user, string? lastEventId = null)
    {
        var sse = await SseClient.ConnectAsync(Client, user.Token, lastEventId);
        sse.Response.StatusCode.ShouldBe(HttpStatusCode.OK);
        sse.Response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        await sse.WaitUntilReadyAsync(Deadline);
        return sse;
    }

    /// <summary>What another instance's handler does: a plain insert (the trigger assigns the position and signals).</summary>
    private Task<Guid> InsertNotification(long userId, long orderId = 1) => InsertNotification(Fixture.ConnectionString, userId, orderId);

    private static async Task<Guid> InsertNotification(string connectionString, long userId, long orderId, NpgsqlTransaction? transaction = null)
    {
        var id = Guid.NewGuid();
        var sql = $"insert into notifications.notifications (id, user_id, type, message, order_id, created_at) values ('{id}', {userId}, 'ORDER_CREATED', 'order {orderId}', {orderId}, now())";
        if (transaction != null)
        {
            await using var command = new NpgsqlCommand(sql, transaction.Connection, transaction);
            await command.ExecuteNonQueryAsync();
        }
        else await Sql.ExecuteAsync(connectionString, sql);
        return id;
    }

    [Fact]
    public async Task a_notification_stored_after_connecting_arrives_with_its_position_as_id()
    {
        var user = await RegisterAndLogin();
        await using var stream = await Connect(user);

        var (_, result) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var orderId = (await result.Json()).GetProperty("id").GetInt64();

        var received = await stream.NextEventAsync(Deadline);
        received.Type.ShouldBe("notification");
        var data = received.Json;
        data.GetProperty("orderId").GetInt64().ShouldBe(orderId);
        data.GetProperty("userId").GetInt64().ShouldBe(user.Id);
        data.GetProperty("type").GetString().ShouldBe("ORDER_CREATED");
        var stored = await FindNotification(data.GetProperty("eventId").GetGuid());
        stored.ShouldNotBeNull();
        received.Id.ShouldBe(stored.Position.ToString());
    }

    [Fact]
    public async Task a_notification_inserted_elsewhere_reaches_the_stream_through_postgres()
    {
        var user = await RegisterAndLogin();
        await using var stream = await Connect(user);

        // The first one may still be found by the stream's initial read; once it has been sent the stream waits,
        // and only the NOTIFY (or the 15 s heartbeat, beyond the deadline) can make it read the second.
        var first = await InsertNotification(user.Id, 41);
        (await stream.NextEventAsync(Deadline)).Json.GetProperty("id").GetGuid().ShouldBe(first);

        var second = await InsertNotification(user.Id, 42);
        (await stream.NextEventAsync(Deadline)).Json.GetProperty("id").GetGuid().ShouldBe(second);
    }

    [Fact]
    public async Task resuming_with_last_event_id_delivers_exactly_the_later_ones_then_new_ones()
    {
        var user = await RegisterAndLogin();
        var ids = new List<Guid>();
        for (var i = 1; i <= 4; i++) ids.Add(await InsertNotification(user.Id, i));
        var positions = await Notifications(all => EntityFrameworkQueryableExtensions.ToListAsync(
            all.Where(n => n.UserId == user.Id).OrderBy(n => n.Position).Select(n => n.Id)));
        positions.ShouldBe(ids, "positions follow the commit order");
        var secondPosition = (await FindNotification(ids[1]))!.Position;

        await using var stream = await Connect(user, lastEventId: secondPosition.ToString());
        (await stream.NextEventAsync(Deadline)).Json.GetProperty("id").GetGuid().ShouldBe(ids[2]);
        var last = await stream.NextEventAsync(Deadline);
        last.Json.GetProperty("id").GetGuid().ShouldBe(ids[3]);
        long.Parse(last.Id!).ShouldBeGreaterThan(secondPosition);

        // No repeat: the next event is the next notification, not an old one again.
        var fifth = await InsertNotification(user.Id, 5);
        (await stream.NextEventAsync(Deadline)).Json.GetProperty("id").GetGuid().ShouldBe(fifth);

        // Without Last-Event-ID a new stream starts after everything already stored.
        await using var fresh = await Connect(user);
        var sixth = await InsertNotification(user.Id, 6);
        (await fresh.NextEventAsync(Deadline)).Json.GetProperty("id").GetGuid().ShouldBe(sixth);
    }

    [Fact]
    public async Task other_users_notifications_never_appear()
    {
        var me = await RegisterAndLogin();
        var other = await RegisterAndLogin();
        await using var stream = await Connect(me);

        await InsertNotification(other.Id, 1);
        await InsertNotification(other.Id, 2);
        var mine = await InsertNotification(me.Id, 3);

        var received = await stream.NextEventAsync(Deadline);
        received.Json.GetProperty("id").GetGuid().ShouldBe(mine);
        received.Json.GetProperty("userId").GetInt64().ShouldBe(me.Id);
    }

    /// <summary>
    /// The instance's LISTEN connection dies (a failover, an idle-connection killer): it reconnects after 2 s and every
    /// open stream reads again, so a notification stored meanwhile arrives long before the 15 s heartbeat.
    /// </summary>
    [Fact]
    public async Task a_stream_keeps_receiving_after_the_listeners_connection_is_killed()
    {
        var user = await RegisterAndLogin();
        await using var stream = await Connect(user);

        var killed = await Sql.ScalarAsync(Fixture.ConnectionString, "select count(pg_terminate_backend(pid)) from pg_stat_activity " +
            "where datname = current_database() and query = 'listen notifications_stored'");
        killed.ShouldBe(1L, "this app's one LISTEN connection");
        var id = await InsertNotification(user.Id);

        (await stream.NextEventAsync(TimeSpan.FromSeconds(8))).Json.GetProperty("id").GetGuid().ShouldBe(id);
    }

    [Fact]
    public async Task without_a_token_it_is_401()
    {
        using var response = await Client.GetAsync("/api/notifications/stream");
        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("not-a-position")]
    [InlineData("-1")]
    public async Task a_last_event_id_that_is_not_a_position_is_a_400(string lastEventId)
    {
        var user = await RegisterAndLogin();
        await using var sse = await SseClient.ConnectAsync(Client, user.Token, lastEventId);
        sse.Response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        sse.Response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    /// <summary>
    /// Two transactions storing notifications for one user: the second waits for the first to commit before it
    /// draws its position, so positions grow in commit order and a client that saw the later one cannot have
    /// skipped the earlier one.
    /// </summary>
    [Fact]
    public async Task a_later_commit_never_gets_an_earlier_position()
    {
        var user = await RegisterAndLogin();
        await using var stream = await Connect(user);

        await using var first = new NpgsqlConnection(Fixture.ConnectionString);
        await first.OpenAsync();
        await using var firstTransaction = await first.BeginTransactionAsync();
        var firstId = await InsertNotification(Fixture.ConnectionString, user.Id, 1, firstTransaction);

        await using var second = new NpgsqlConnection(Fixture.ConnectionString);
        await second.OpenAsync();
        var secondPid = second.ProcessID;
        await using var secondTransaction = await second.BeginTransactionAsync();
        var secondInsert = InsertNotification(Fixture.ConnectionString, user.Id, 2, secondTransaction);

        // The second insert waits on the first transaction's per-user lock.
        var deadline = DateTime.UtcNow + Deadline;
        while (!Equals(await Sql.ScalarAsync(Fixture.ConnectionString, $"select wait_event_type from pg_stat_activity where pid = {secondPid}"), "Lock"))
        {
            secondInsert.IsCompleted.ShouldBeFalse("the second insert must wait for the first transaction's commit");
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The second insert never waited for the first");
            await Task.Delay(20);
        }

        await firstTransaction.CommitAsync();
        var secondId = await secondInsert;
        await secondTransaction.CommitAsync();

        var a = await stream.NextEventAsync(Deadline);
        var b = await stream.NextEventAsync(Deadline);
        a.Json.GetProperty("id").GetGuid().ShouldBe(firstId);
        b.Json.GetProperty("id").GetGuid().ShouldBe(secondId);
        long.Parse(b.Id!).ShouldBeGreaterThan(long.Parse(a.Id!));
    }
}
