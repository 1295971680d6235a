using System.Net;
using Alba;
using JasperFx.CommandLine;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Tests.Support;
using Wolverine;

namespace OrderEvents.Tests.Operations;

/// <summary>
/// PostgreSQL going away makes the app not ready. The app runs on a throwaway cluster of its own that the test stops;
/// the shared test server is never touched.
/// </summary>
public sealed class PostgresOutageHealthTests : IAsyncLifetime
{
    private EmbeddedPostgres _postgres = null!;
    private IAlbaHost _host = null!;

    public async Task InitializeAsync()
    {
        JasperFxEnvironment.AutoStartHost = true;
        _postgres = EmbeddedPostgres.StartThrowaway(NullLogger.Instance);
        _host = await AlbaHost.For<Program>(builder =>
        {
            builder.UseSetting("ConnectionStrings:Postgres", _postgres.ConnectionString);
            builder.UseSetting("KAFKA_ENABLED", "false");
            builder.UseSetting("Jwt:SigningKey", "health-test-signing-key-of-at-least-32-bytes");
            builder.UseSetting("Auth:AdminEmails", AppFixture.AdminEmail);
            builder.ConfigureServices(services => services.RunWolverineInSoloMode());
        });
    }

    [Fact]
    public async Task ready_is_503_when_postgresql_is_unreachable_and_says_which_check_failed()
    {
        var healthy = await Health.Get(_host, "/health/ready", HttpStatusCode.OK);
        healthy.GetProperty("checks").EnumerateObject().Select(c => c.Name).ShouldBe(["postgresql", "wolverine-listeners"], ignoreOrder: true);

        _postgres.Stop();

        var (ready, body) = await Health.GetWithBody(_host, "/health/ready", HttpStatusCode.ServiceUnavailable);
        ready.GetProperty("status").GetString().ShouldBe("Unhealthy");
        var postgres = ready.GetProperty("checks").GetProperty("postgresql");
        postgres.GetProperty("status").GetString().ShouldBe("Unhealthy");
        postgres.GetProperty("description").GetString().ShouldNotBeNullOrWhiteSpace();
        Health.ShouldNotLeakConnectionDetails(body, _postgres.ConnectionString);

        // The process itself is fine: liveness does not depend on the database.
        await Health.Get(_host, "/health/live", HttpStatusCode.OK);
    }

    public async Task DisposeAsync()
    {
        // Wolverine's shutdown talks to the (stopped) database; do not let that hold the run.
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _host.StopAsync(stopping.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await _host.DisposeAsync();
        _postgres.Dispose();
    }
}
