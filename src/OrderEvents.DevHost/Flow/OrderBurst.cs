using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using OrderEvents.Features.Products;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;

namespace OrderEvents.DevHost.Flow;

public sealed record OrderBurstRequest(int Orders);

public sealed class OrderBurstRequestValidator : AbstractValidator<OrderBurstRequest>
{
    public const int MaxOrders = 1_000;

    public OrderBurstRequestValidator() => RuleFor(x => x.Orders).InclusiveBetween(1, MaxOrders);
}

/// <summary>How the burst went: how many POST /api/orders answered 201, and the other answers by status code.</summary>
public sealed record OrderBurstResponse(int Requested, int Created, IReadOnlyDictionary<int, int> Failed, long ElapsedMs);

public static class OrderBurstEndpoint
{
    public const string ClientName = "flow-burst";

    /// <summary>Orders in flight at once: enough to queue work, well under admission control's 32 running requests.</summary>
    private const int Parallelism = 8;

    /// <summary>
    /// POST /flow/faults/burst {"orders": 1-1000} (admin): places that many orders for the signed-in user through
    /// POST /api/orders on this very app (the same endpoint, validation, transaction and outbox as any client's), with
    /// the caller's token, and answers when all are answered. The page meanwhile shows the lag rise and fall.
    /// </summary>
    public static async Task<Results<Ok<OrderBurstResponse>, ProblemHttpResult>> Post(
        OrderBurstRequest request, IValidator<OrderBurstRequest> validator, HttpContext context, IServiceProvider services,
        IQuerySession session, IHttpClientFactory clients, CancellationToken cancellationToken)
    {
        if (validator.Check(request) is var invalid && invalid != WolverineContinue.NoProblems) return TypedResults.Problem(invalid);
        if (services.GetService<BrokerOutage>() is null) return BrokerOutageEndpoint.Unavailable(services);

        var products = await session.Query<Product>().Where(p => p.Status == ProductStatus.Active).OrderBy(p => p.Id)
            .Select(p => p.Id).Take(3).ToListAsync(cancellationToken);
        if (products.Count == 0) return TypedResults.Problem(Validation.Conflict("The catalog has no ACTIVE product to order."));

        using var client = clients.CreateClient(ClientName);
        client.BaseAddress = OwnAddress(services.GetRequiredService<IServer>(), context.Request);
        var authorization = AuthenticationHeaderValue.Parse(context.Request.Headers.Authorization.ToString());
        var statuses = new int[request.Orders];
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, request.Orders),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (index, token) =>
            {
                var body = $$"""{"items":[{"productId":{{products[index % products.Count]}},"quantity":{{1 + index % 3}}}]}""";
                using var order = new HttpRequestMessage(HttpMethod.Post, "/api/orders")
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                    Headers = { Authorization = authorization },
                };
                using var answer = await client.SendAsync(order, token);
                statuses[index] = (int)answer.StatusCode;
            });

        var failed = statuses.Where(status => status != StatusCodes.Status201Created)
            .GroupBy(status => status).ToDictionary(group => group.Key, group => group.Count());
        return TypedResults.Ok(new OrderBurstResponse(request.Orders, statuses.Count(s => s == StatusCodes.Status201Created), failed,
            clock.ElapsedMilliseconds));
    }

    /// <summary>This app's own HTTP address (Kestrel's, a wildcard host made loopback), else the one the caller used.</summary>
    private static Uri OwnAddress(IServer server, HttpRequest request)
    {
        var listening = server.Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(address => new UriBuilder(address.Replace("://+", "://localhost").Replace("://*", "://localhost")))
            .FirstOrDefault(address => address.Scheme == Uri.UriSchemeHttp);
        if (listening is null) return new Uri($"{request.Scheme}://{request.Host}");
        if (listening.Host is "0.0.0.0" or "[::]" or "::") listening.Host = "localhost";
        return listening.Uri;
    }
}
