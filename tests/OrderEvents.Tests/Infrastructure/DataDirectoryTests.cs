using OrderEvents.DevHost.Embedded;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// `dotnet run` from a checkout the postgres account cannot enter (a root user's home, mode 0700): the embedded
/// server keeps its data where that account can, and the log says where and how to reset it.
/// </summary>
public sealed class DataDirectoryTests : IDisposable
{
    // A private "home" (0700, owned by whoever runs the tests) with a checkout inside.
    private readonly string _home = Path.Combine(Path.GetTempPath(), "orderevents-home-" + Guid.NewGuid().ToString("N")[..8]);
    private string Checkout => Path.Combine(_home, "src", "OrderEvents");

    [LinuxOnlyFact] // the embedded server and this scenario are Linux-only
    public async Task the_app_runs_from_a_checkout_inside_a_private_home_and_logs_where_its_data_is()
    {
        Directory.CreateDirectory(Checkout);
#pragma warning disable CA1416 // LinuxOnlyFact skips this test elsewhere
        File.SetUnixFileMode(_home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
#pragma warning restore CA1416
        var expected = EmbeddedPostgres.DefaultDataDirectory(Checkout);
        if (Environment.UserName == "root")
            expected.ShouldStartWith(EmbeddedPostgres.SharedDataRoot + "/", customMessage: "as root the server runs as postgres, which cannot enter the 0700 home");
        else
            expected.ShouldBe(Path.Combine(Checkout, ".data", "postgres")); // the server runs as the user who owns the home

        await using (var app = await AppProcess.ServeAsync(new Dictionary<string, string?>
                     {
                         ["ASPNETCORE_CONTENTROOT"] = Checkout,
                         ["EmbeddedPostgres__DataDirectory"] = null, // the default folder is what this test is about
                         ["KAFKA_ENABLED"] = "false",
                     }, timeout: TimeSpan.FromSeconds(120)))
        {
            app.Lines.ShouldContain(line => line.Contains($"Data: {expected} (kept between runs; to reset, stop the app and delete that folder"));
        }

        File.Exists(Path.Combine(expected, "PG_VERSION")).ShouldBeTrue();
        File.Exists(Path.Combine(expected, "postmaster.pid")).ShouldBeFalse("the server stops with the app");
    }

    [Fact]
    public void two_checkouts_get_two_shared_folders_and_the_name_says_which_checkout()
    {
        var first = EmbeddedPostgres.SharedDataDirectoryFor("/root/work/orderevents/src/OrderEvents");
        var second = EmbeddedPostgres.SharedDataDirectoryFor("/root/other/orderevents/src/OrderEvents");
        first.ShouldNotBe(second);
        first.ShouldStartWith("/var/lib/orderevents/orderevents-src-OrderEvents-");
        first.ShouldEndWith("/postgres");
        EmbeddedPostgres.SharedDataDirectoryFor("/root/work/orderevents/src/OrderEvents").ShouldBe(first); // stable between runs
    }

    // xunit 2 calls IDisposable (never IAsyncDisposable) on a test class: the folders go here.
    public void Dispose()
    {
        AppProcess.RemoveFolder(Path.GetDirectoryName(EmbeddedPostgres.SharedDataDirectoryFor(Path.GetFullPath(Checkout)))!);
        AppProcess.RemoveFolder(_home);
    }
}
