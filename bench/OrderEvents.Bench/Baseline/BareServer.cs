using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using NpgsqlTypes;

namespace OrderEvents.Bench.Baseline;

/// <summary>
/// The bare baseline (`OrderEvents.Bench baseline-server`): the service's order work done by hand with an ASP.NET Core
/// minimal API, raw Npgsql and Confluent.Kafka. Same JSON, JWT validation and request validation; the order, its items
/// and an outbox row in one transaction (one batch); <see cref="OutboxRelay"/> publishes and deletes outbox rows;
/// <see cref="NotificationConsumer"/> stores notifications in batches (idempotent by event id), then commits offsets.
/// Settings come from the environment like the service's: ASPNETCORE_URLS, ConnectionStrings__Postgres, KAFKA_BROKERS,
/// Jwt__SigningKey, plus BASELINE_TOPIC and BASELINE_GROUP.
/// </summary>
public static class BareServer
{
    public const string DevelopmentSigningKey = "orderevents-development-only-signing-key-do-not-use-in-production";

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var connectionString = builder.Configuration.GetConnectionString("Postgres")
                               ?? throw new InvalidOperationException("ConnectionStrings__Postgres is required");
        var settings = new BareSettings(
            builder.Configuration["KAFKA_BROKERS"] ?? throw new InvalidOperationException("KAFKA_BROKERS is required"),
            builder.Configuration["BASELINE_TOPIC"] ?? "baseline-order-events",
            builder.Configuration["BASELINE_GROUP"] ?? "baseline-notifications");
        var signingKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(builder.Configuration["Jwt:SigningKey"] is { Length: > 0 } key ? key : DevelopmentSigningKey));

        var dataSource = NpgsqlDataSource.Create(connectionString);
        await BareSchema.CreateAsync(dataSource);

        builder.Services.AddSingleton(dataSource);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(new OrderIds());
        builder.Services.AddSingleton<OutboxRelay>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        builder.Services.AddHostedService<NotificationConsumer>();
        builder.Services.AddSingleton<IValidator<CreateOrderRequest>, CreateOrderRequestValidator>();
        builder.Services.AddSingleton<IValidator<RegisterRequest>, RegisterRequestValidator>();
        builder.Services.AddSingleton<IPasswordHasher<object>, PasswordHasher<object>>();
        builder.Services.AddSingleton(new JsonWebTokenHandler());
        builder.Services.ConfigureHttpJsonOptions(json =>
            json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseUpper, allowIntegerValues: false)));
        builder.Services.AddProblemDetails();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            options.MapInboundClaims = false;
            options.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = "orderevents",
                ValidAudience = "orderevents",
                IssuerSigningKey = signingKey,
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                NameClaimType = "sub",
                RoleClaimType = "role",
                ClockSkew = TimeSpan.FromSeconds(30),
            };
        });
        builder.Services.AddAuthorization();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapPost("/api/auth/register", Register).AllowAnonymous();
        app.MapPost("/api/auth/login", (LoginRequest request, NpgsqlDataSource db, IPasswordHasher<object> hasher, JsonWebTokenHandler tokens) =>
            Login(request, db, hasher, tokens, signingKey)).AllowAnonymous();
        app.MapPost("/api/orders", CreateOrder).RequireAuthorization();
        app.MapPatch("/api/orders/{id:long}/pay", (long id, ClaimsPrincipal user, NpgsqlDataSource db, OutboxRelay relay) =>
            ChangeStatus(id, OrderStatus.Paid, user, db, relay)).RequireAuthorization();
        app.MapPatch("/api/orders/{id:long}/cancel", (long id, ClaimsPrincipal user, NpgsqlDataSource db, OutboxRelay relay) =>
            ChangeStatus(id, OrderStatus.Cancelled, user, db, relay)).RequireAuthorization();

        await app.RunAsync();
        return 0;
    }

    private static async Task<IResult> Register(RegisterRequest? request, IValidator<RegisterRequest> validator, NpgsqlDataSource db, IPasswordHasher<object> hasher)
    {
        if (request is null) return Results.Problem(statusCode: 400, title: "A request body is required");
        var validation = await validator.ValidateAsync(request);
        if (!validation.IsValid) return Results.ValidationProblem(validation.ToDictionary());

        var email = request.Email.Trim().ToLowerInvariant();
        await using var command = db.CreateCommand(
            "insert into users (email, password_hash, created_at) values ($1, $2, now()) on conflict (email) do nothing returning id");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = email });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = hasher.HashPassword(request, request.Password) });
        return await command.ExecuteScalarAsync() is long id
            ? Results.Created("/api/auth/me", new RegisteredUser(id, email))
            : Results.Problem(statusCode: 409, title: "Conflict", detail: $"The email '{email}' is already registered.");
    }

    private static async Task<IResult> Login(LoginRequest request, NpgsqlDataSource db, IPasswordHasher<object> hasher, JsonWebTokenHandler tokens, SecurityKey key)
    {
        var email = (request.Email ?? "").Trim().ToLowerInvariant();
        await using var command = db.CreateCommand("select id, password_hash from users where email = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = email });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return Results.Problem(statusCode: 401, title: "Invalid email or password");
        var (id, hash) = (reader.GetInt64(0), reader.GetString(1));
        if (hasher.VerifyHashedPassword(request, hash, request.Password ?? "") == PasswordVerificationResult.Failed)
            return Results.Problem(statusCode: 401, title: "Invalid email or password");

        var now = DateTime.UtcNow;
        var token = tokens.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "orderevents",
            Audience = "orderevents",
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddHours(1),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
            Subject = new ClaimsIdentity([new Claim("sub", id.ToString()), new Claim("email", email), new Claim("role", "user")]),
        });
        return Results.Ok(new TokenResponse(token, "Bearer", 3600));
    }

    private static async Task<IResult> CreateOrder(
        CreateOrderRequest? request, ClaimsPrincipal user, IValidator<CreateOrderRequest> validator, NpgsqlDataSource db, OrderIds ids,
        OutboxRelay relay, BareSettings settings)
    {
        if (request is null) return Results.Problem(statusCode: 400, title: "A request body is required");
        var validation = validator.Validate(request);
        if (!validation.IsValid) return Results.ValidationProblem(validation.ToDictionary());

        var productIds = request.Items!.Select(item => item.ProductId).ToArray();
        var prices = new Dictionary<long, decimal>(productIds.Length);
        await using var connection = await db.OpenConnectionAsync();
        await using (var lookup = new NpgsqlCommand("select id, price from products where id = any($1) and status = 'ACTIVE'", connection))
        {
            lookup.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = productIds });
            await using var reader = await lookup.ExecuteReaderAsync();
            while (await reader.ReadAsync()) prices[reader.GetInt64(0)] = reader.GetDecimal(1);
        }

        var unavailable = productIds.Where(id => !prices.ContainsKey(id)).ToList();
        if (unavailable.Count > 0)
            return Results.Problem(statusCode: 404, title: "Not found", detail: $"Unknown or inactive products: {string.Join(", ", unavailable)}.");

        var orderId = await ids.NextAsync(connection);
        var userId = long.Parse(user.FindFirstValue("sub")!);
        var now = DateTimeOffset.UtcNow;
        var items = request.Items!.Select(line => new OrderItem(line.ProductId, line.Quantity, prices[line.ProductId])).ToList();
        var total = items.Sum(item => item.Price * item.Quantity);
        var orderEvent = OrderEvent.For(orderId, userId, total, now, OrderEvent.TypeFor(OrderStatus.Pending));

        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            batch.BatchCommands.Add(Command(
                "insert into orders (id, user_id, status, total_amount, created_at, updated_at) values ($1, $2, 'PENDING', $3, $4, $4)",
                orderId, userId, total, now));
            batch.BatchCommands.Add(Command(
                "insert into order_items (order_id, product_id, quantity, price) select $1, * from unnest($2::bigint[], $3::int[], $4::numeric[])",
                orderId, items.Select(i => i.ProductId).ToArray(), items.Select(i => i.Quantity).ToArray(), items.Select(i => i.Price).ToArray()));
            batch.BatchCommands.Add(OutboxInsert(orderEvent));
            await batch.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
        }

        relay.Signal();
        return Results.Created($"/api/orders/{orderId}", new OrderResponse(orderId, userId, total, OrderStatus.Pending, now, now, items));
    }

    private static async Task<IResult> ChangeStatus(long id, OrderStatus next, ClaimsPrincipal user, NpgsqlDataSource db, OutboxRelay relay)
    {
        var userId = long.Parse(user.FindFirstValue("sub")!);
        var now = DateTimeOffset.UtcNow;
        var nextName = next.ToString().ToUpperInvariant();
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        OrderResponse? changed = null;
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            batch.BatchCommands.Add(Command(
                "update orders set status = $1, updated_at = $2 where id = $3 and user_id = $4 and status = 'PENDING' returning total_amount, created_at",
                nextName, now, id, userId));
            batch.BatchCommands.Add(Command("select product_id, quantity, price from order_items where order_id = $1 order by product_id", id));
            await using var reader = await batch.ExecuteReaderAsync();
            if (await reader.ReadAsync())
            {
                var (total, createdAt) = (reader.GetDecimal(0), reader.GetFieldValue<DateTimeOffset>(1));
                await reader.NextResultAsync();
                var items = new List<OrderItem>();
                while (await reader.ReadAsync()) items.Add(new OrderItem(reader.GetInt64(0), reader.GetInt32(1), reader.GetDecimal(2)));
                changed = new OrderResponse(id, userId, total, next, createdAt, now, items);
            }
        }

        if (changed is null)
        {
            await transaction.RollbackAsync();
            await using var status = new NpgsqlCommand("select status from orders where id = $1 and user_id = $2", connection);
            status.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
            status.Parameters.Add(new NpgsqlParameter<long> { TypedValue = userId });
            return await status.ExecuteScalarAsync() is string current
                ? Results.Problem(statusCode: 409, title: "Conflict", detail: $"Order {id} is {current}; only a PENDING order can become {nextName}.")
                : Results.Problem(statusCode: 404, title: "Not found", detail: $"Order {id} does not exist.");
        }

        await using (var outbox = new NpgsqlBatch(connection, transaction))
        {
            outbox.BatchCommands.Add(OutboxInsert(OrderEvent.For(id, userId, changed.TotalAmount, now, OrderEvent.TypeFor(next))));
            await outbox.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        relay.Signal();
        return Results.Ok(changed);
    }

    private static NpgsqlBatchCommand OutboxInsert(OrderEvent orderEvent) =>
        Command("insert into outbox (message_key, payload) values ($1, $2)",
            orderEvent.OrderId.ToString(), JsonSerializer.Serialize(orderEvent, BaselineJson.Events));

    private static NpgsqlBatchCommand Command(string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(parameter is DateTimeOffset at
                ? new NpgsqlParameter { Value = at, NpgsqlDbType = NpgsqlDbType.TimestampTz }
                : new NpgsqlParameter { Value = parameter });
        return command;
    }
}

public sealed record BareSettings(string Brokers, string Topic, string GroupId);

/// <summary>Order ids in blocks of 100 from one sequence (HiLo, as Marten does for the service's orders).</summary>
public sealed class OrderIds
{
    private const int BlockSize = 100;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _next;
    private long _ceiling;

    /// <summary>Takes the request's own connection: a second one from the pool could wait for ever under load.</summary>
    public async ValueTask<long> NextAsync(NpgsqlConnection connection)
    {
        await _gate.WaitAsync();
        try
        {
            if (_next >= _ceiling)
            {
                await using var command = new NpgsqlCommand("select nextval('order_ids')", connection);
                _next = (long)(await command.ExecuteScalarAsync())!;
                _ceiling = _next + BlockSize;
            }

            return _next++;
        }
        finally
        {
            _gate.Release();
        }
    }
}

public static class BareSchema
{
    public static async Task CreateAsync(NpgsqlDataSource db)
    {
        await using var command = db.CreateCommand("""
            create table if not exists users (id bigserial primary key, email text not null unique, password_hash text not null, created_at timestamptz not null);
            create table if not exists products (id bigint primary key, name text not null, price numeric not null, status text not null);
            create sequence if not exists order_ids increment by 100;
            create table if not exists orders (id bigint primary key, user_id bigint not null, status text not null, total_amount numeric not null,
                created_at timestamptz not null, updated_at timestamptz not null);
            create index if not exists orders_user_id on orders (user_id);
            create table if not exists order_items (order_id bigint not null references orders (id), product_id bigint not null, quantity int not null,
                price numeric not null, primary key (order_id, product_id));
            create table if not exists outbox (id bigserial primary key, message_key text not null, payload text not null);
            create table if not exists notifications (id uuid primary key, user_id bigint not null, type text not null, message text not null,
                order_id bigint not null, created_at timestamptz not null);
            create index if not exists notifications_user_id on notifications (user_id);
            insert into products (id, name, price, status) values
                (1, 'Wireless Mouse', 15000, 'ACTIVE'), (2, 'Mechanical Keyboard', 89000, 'ACTIVE'), (3, 'USB-C Cable', 12.5, 'ACTIVE'),
                (4, '27-inch Monitor', 329000, 'ACTIVE'), (5, 'Laptop Stand', 45000, 'ACTIVE'), (6, 'Discontinued Webcam', 39000, 'INACTIVE')
            on conflict do nothing;
            """);
        await command.ExecuteNonQueryAsync();
    }
}
