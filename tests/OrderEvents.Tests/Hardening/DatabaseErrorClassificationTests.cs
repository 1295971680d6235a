using System.Net.Sockets;
using Npgsql;
using OrderEvents.Infrastructure.Postgres;

namespace OrderEvents.Tests.Hardening;

/// <summary>
/// How a failure is classified decides whether a batch is retried (an outage: nothing dead-lettered) or a record is set
/// aside (a row refusal). Libraries wrap Npgsql's exceptions at different depths (Marten, EF Core, Wolverine), so each
/// rule must hold however deep the database's exception sits.
/// </summary>
public sealed class DatabaseErrorClassificationTests
{
    private static PostgresException Postgres(string sqlState) => new("refused", "ERROR", "ERROR", sqlState);

    private static Exception Wrapped(Exception inner, int depth)
    {
        var exception = inner;
        for (var i = 0; i < depth; i++) exception = new InvalidOperationException($"wrapper {i}", exception);
        return exception;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void a_database_error_is_retried_at_any_depth(int depth)
    {
        DatabaseOutage.IsDatabaseError(Wrapped(new NpgsqlException("broken"), depth)).ShouldBeTrue();
        DatabaseOutage.IsDatabaseError(Wrapped(Postgres("23514"), depth)).ShouldBeTrue();
    }

    [Fact]
    public void an_error_that_is_not_the_databases_is_not_retried_as_an_outage()
    {
        DatabaseOutage.IsDatabaseError(Wrapped(new TimeoutException("elsewhere"), 2)).ShouldBeFalse();
        DatabaseOutage.IsDatabaseError(null).ShouldBeFalse();
    }

    [Theory]
    [InlineData("08006", true)] // connection failure
    [InlineData("57P01", true)] // admin shutdown
    [InlineData("53300", true)] // too many connections
    [InlineData("23514", false)] // check violation: a row, not the database
    [InlineData("42P01", false)] // undefined table: the database is wrong, but it answers
    public void an_outage_is_the_database_going_away_at_any_depth(string sqlState, bool outage)
    {
        DatabaseOutage.IsOutage(Wrapped(Postgres(sqlState), 2)).ShouldBe(outage);
        DatabaseOutage.IsOutage(Wrapped(new SocketException(), 2)).ShouldBeTrue();
    }

    [Theory]
    [InlineData("23505", true)] // unique violation
    [InlineData("23514", true)] // check violation
    [InlineData("22001", true)] // value too long
    [InlineData("P0001", true)] // raised by a trigger
    [InlineData("42501", false)] // permission revoked: every row would fail
    [InlineData("40P01", false)] // deadlock: not the row's values
    public void a_row_refusal_is_a_data_or_constraint_error_at_any_depth(string sqlState, bool refusal)
    {
        (DatabaseOutage.RowRefusal(Wrapped(Postgres(sqlState), 2)) is not null).ShouldBe(refusal);
    }
}
