using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// Where Wolverine opens transactions, read from the committed generated code (GeneratedCodeTests keeps it current):
/// reads open none, and the notification batch is written in Wolverine's EF Core transaction.
/// </summary>
public sealed class TransactionBoundaryTests
{
    private static readonly string Generated = Path.Combine(
        Path.GetDirectoryName(BuiltApp.AssemblyPath)!.Split(Path.Combine("src", "OrderEvents", "bin"))[0],
        "src", "OrderEvents", "Internal", "Generated", "WolverineHandlers");

    [Fact]
    public void no_read_only_endpoint_opens_a_transaction_or_saves()
    {
        var reads = Directory.GetFiles(Generated, "GET_*.cs");
        reads.Length.ShouldBe(8);
        foreach (var file in reads)
        {
            var code = File.ReadAllText(file);
            code.ShouldNotContain("BeginTransactionAsync", customMessage: Path.GetFileName(file));
            code.ShouldNotContain("SaveChangesAsync", customMessage: Path.GetFileName(file));
            code.ShouldNotContain("EnlistInOutboxAsync", customMessage: Path.GetFileName(file));
        }
    }

    [Fact]
    public void the_notification_batch_is_written_in_wolverines_ef_core_transaction()
    {
        var code = File.ReadAllText(Directory.GetFiles(Generated, "OrderEventArrayHandler*.cs").ShouldHaveSingleItem());
        var begin = code.IndexOf("notificationsDbContext.Database.BeginTransactionAsync", StringComparison.Ordinal);
        var handle = code.IndexOf("NotifyUsersHandler.Handle(", StringComparison.Ordinal);
        var commit = code.IndexOf("efCoreEnvelopeTransaction.CommitAsync(", StringComparison.Ordinal);
        code.ShouldContain("new Wolverine.EntityFrameworkCore.Internals.EfCoreEnvelopeTransaction(notificationsDbContext, context");
        begin.ShouldBeGreaterThan(0);
        handle.ShouldBeGreaterThan(begin);
        commit.ShouldBeGreaterThan(handle);
        code.ShouldContain("efCoreEnvelopeTransaction.RollbackAsync()");
    }
}
