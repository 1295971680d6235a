using System.Net;
using System.Text.Json;
using Alba;
using JasperFx.Core;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Tests.Support;
using Wolverine.Runtime;

namespace OrderEvents.Tests.Operations;

/// <summary>/health/live and /health/ready against the shared app (real PostgreSQL, the Kafka-protocol broker).</summary>
[Collection(AppCollection.Name)]
public sealed class HealthTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task live_answers_without_a_token_and_checks_no_dependency()
    {
        var live = await Health.Get(Host, "/health/live", HttpStatusCode.OK);
        live.GetProperty("status").GetString().ShouldBe("Healthy");
        live.GetProperty("checks").EnumerateObject().ShouldBeEmpty();
    }

    [Fact]
    public async Task ready_is_200_with_every_dependency_healthy_and_no_connection_details()
    {
        var (ready, body) = await Health.GetWithBody(Host, "/health/ready", HttpStatusCode.OK);

        ready.GetProperty("status").GetString().ShouldBe("Healthy");
        var checks = ready.GetProperty("checks");
        checks.EnumerateObject().Select(c => c.Name).ShouldBe(["postgresql", "wolverine-listeners", "kafka"], ignoreOrder: true);
        foreach (var check in checks.EnumerateObject())
        {
            check.Value.GetProperty("status").GetString().ShouldBe("Healthy", check.Name);
            check.Value.GetProperty("durationMs").GetDouble().ShouldBeGreaterThanOrEqualTo(0);
        }

        checks.GetProperty("kafka").GetProperty("description").GetString()!.ShouldContain("order-events: 3 partitions");
        checks.GetProperty("wolverine-listeners").GetProperty("data").EnumerateObject().ShouldContain(l => l.Name.StartsWith("kafka://"));
        Health.ShouldNotLeakConnectionDetails(body, Fixture.ConnectionString);
    }

    [EmbeddedBrokerFact]
    public async Task ready_is_503_while_the_broker_is_down_and_200_again_when_it_is_back()
    {
        var broker = Fixture.Broker!;
        broker.TakeDown();
        try
        {
            var ready = await Health.Get(Host, "/health/ready", HttpStatusCode.ServiceUnavailable);
            ready.GetProperty("status").GetString().ShouldBe("Unhealthy");
            var kafka = ready.GetProperty("checks").GetProperty("kafka");
            kafka.GetProperty("status").GetString().ShouldBe("Unhealthy");
            kafka.GetProperty("description").GetString()!.ShouldContain("No metadata from Kafka");
            ready.GetProperty("checks").GetProperty("postgresql").GetProperty("status").GetString().ShouldBe("Healthy");
        }
        finally
        {
            broker.BringUp();
        }

        // The client reconnects on its own (backoff): poll, with a deadline.
        await Health.WaitFor(Host, "/health/ready", HttpStatusCode.OK, 30.Seconds());
        await PipelineFlowsAgain();
    }

    [Fact]
    public async Task ready_is_503_while_the_kafka_listener_is_stopped()
    {
        var listener = Host.Services.GetRequiredService<IWolverineRuntime>().Endpoints.ActiveListeners()
            .Single(agent => agent.Uri.Scheme == "kafka");
        await listener.StopAndDrainAsync();
        try
        {
            var ready = await Health.Get(Host, "/health/ready", HttpStatusCode.ServiceUnavailable);
            var listeners = ready.GetProperty("checks").GetProperty("wolverine-listeners");
            listeners.GetProperty("status").GetString().ShouldBe("Unhealthy");
            listeners.GetProperty("description").GetString()!.ShouldContain("kafka://");
        }
        finally
        {
            await listener.StartAsync();
        }

        await Health.Get(Host, "/health/ready", HttpStatusCode.OK);
        await PipelineFlowsAgain();
    }
}

/// <summary>Health endpoint helpers (anonymous requests: no bearer token anywhere here).</summary>
public static class Health
{
    public static async Task<JsonElement> Get(IAlbaHost host, string url, HttpStatusCode expected) =>
        (await GetWithBody(host, url, expected)).Json;

    public static async Task<(JsonElement Json, string Body)> GetWithBody(IAlbaHost host, string url, HttpStatusCode expected)
    {
        var result = await host.Scenario(s =>
        {
            s.Get.Url(url);
            s.StatusCodeShouldBe(expected);
        });
        result.Context.Response.ContentType.ShouldNotBeNull().ShouldStartWith("application/json");
        var body = await result.ReadAsTextAsync();
        return (JsonDocument.Parse(body).RootElement.Clone(), body);
    }

    public static async Task WaitFor(IAlbaHost host, string url, HttpStatusCode expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var result = await host.Scenario(s =>
            {
                s.Get.Url(url);
                s.IgnoreStatusCode();
            });
            if (result.Context.Response.StatusCode == (int)expected) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{url} still answered {result.Context.Response.StatusCode} after {timeout}: {await result.ReadAsTextAsync()}");
            await Task.Delay(200);
        }
    }

    public static void ShouldNotLeakConnectionDetails(string body, string connectionString)
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        body.ShouldNotContain("Password", Case.Insensitive);
        body.ShouldNotContain("Host=", Case.Insensitive);
        body.ShouldNotContain(builder.Database!);
        if (!string.IsNullOrEmpty(builder.Username)) body.ShouldNotContain($"\"{builder.Username}\"");
    }
}
