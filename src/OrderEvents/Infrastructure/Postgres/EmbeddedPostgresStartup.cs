namespace OrderEvents.Infrastructure.Postgres;

public static class EmbeddedPostgresStartup
{
    /// <summary>
    /// Starts the embedded server (when there is one) in the host's "starting" phase, before any hosted service starts
    /// (Marten applies its schema, Wolverine recovers its outbox, both in StartAsync), so every client finds it running
    /// and the start-up log says where its data is. Commands that never start the host never get here.
    /// </summary>
    public static IServiceCollection AddEmbeddedPostgresStartup(this IServiceCollection services) =>
        services.AddHostedService<EmbeddedPostgresStarter>();

    private sealed class EmbeddedPostgresStarter(PostgresConnection postgres) : IHostedLifecycleService
    {
        public Task StartingAsync(CancellationToken cancellationToken)
        {
            postgres.Embedded?.EnsureStarted();
            return Task.CompletedTask;
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
