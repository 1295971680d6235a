using System.Text;
using Alba;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Hardening;

/// <summary>
/// A sweep of bad requests over every endpoint: each gets its 4xx as ProblemDetails (never a 5xx), the database is
/// byte-for-byte unchanged afterwards, and no request writes an error-level log entry or a stack trace.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class BadInputTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private enum As { Anonymous, User, Admin }

    /// <summary>One bad request: body as raw bytes (null = no body), and the status it must get.</summary>
    private sealed record Case(string Name, string Method, string Url, As Who, byte[]? Body, string? ContentType, int Expected, string? Field = null)
    {
        public override string ToString() => $"{Name}: {Method} {Url}";
    }

    private const string Json = "application/json";

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static Case Body(string name, string method, string url, As who, string body, int expected, string? field = null) =>
        new(name, method, url, who, Utf8(body), Json, expected, field);

    private static IEnumerable<Case> Cases(long productId, long orderId)
    {
        var invalidUtf8 = new byte[] { 0xC3, 0x28 };
        // U+D800 written as UTF-8 would be (a lone surrogate has no valid UTF-8 form).
        var rawSurrogate = new byte[] { 0xED, 0xA0, 0x80 };
        byte[] WithBytes(string before, byte[] middle, string after) => [.. Utf8(before), .. middle, .. Utf8(after)];
        var huge = Utf8("{\"email\":\"" + new string('a', 70 * 1024) + "@example.com\",\"password\":\"x\"}");

        var jsonEndpoints = new (string Method, string Url, As Who, string Valid)[]
        {
            ("POST", "/api/auth/register", As.Anonymous, """{"email":"new@example.com","password":"long-enough-password"}"""),
            ("POST", "/api/auth/login", As.Anonymous, """{"email":"new@example.com","password":"long-enough-password"}"""),
            ("POST", "/api/products", As.Admin, """{"name":"Lamp","price":10}"""),
            ("PATCH", $"/api/products/{productId}", As.Admin, """{"name":"Lamp"}"""),
            ("POST", "/api/orders", As.User, """{"items":[{"productId":1,"quantity":1}]}"""),
        };

        // The same shapes against every JSON endpoint.
        foreach (var (method, url, who, valid) in jsonEndpoints)
        {
            yield return Body("null body", method, url, who, "null", 400);
            yield return Body("empty body", method, url, who, "", 400);
            yield return Body("whitespace body", method, url, who, "  \n ", 400);
            yield return Body("array body", method, url, who, "[]", 400);
            yield return Body("array of the valid object", method, url, who, $"[{valid}]", 400);
            yield return Body("string body", method, url, who, "\"hello\"", 400);
            yield return Body("number body", method, url, who, "42", 400);
            yield return Body("truncated JSON", method, url, who, valid[..^3], 400);
            yield return Body("trailing garbage", method, url, who, valid + "}", 400);
            yield return Body("unknown field", method, url, who, valid[..^1] + ",\"isAdmin\":true}", 400, "isAdmin");
            yield return Body("NUL in an unknown field", method, url, who, valid[..^1] + ",\"x\":\"a\\u0000b\"}", 400, "x");
            yield return new Case("invalid UTF-8 in a string", method, url, who, WithBytes(valid[..^1] + ",\"x\":\"", invalidUtf8, "\"}"), Json, 400);
            yield return Body("lone surrogate (escaped) in an unknown field", method, url, who, valid[..^1] + ",\"x\":\"a\\ud800b\"}", 400, "x");
            yield return new Case("lone surrogate (raw) in an unknown field", method, url, who, WithBytes(valid[..^1] + ",\"x\":\"a", rawSurrogate, "b\"}"), Json, 400, "x");
            yield return new Case("invalid UTF-8 outside strings", method, url, who, WithBytes("", [0xFF, 0xFE], valid), Json, 400);
            yield return new Case("oversized body (Content-Length)", method, url, who, huge, Json, 413);
            yield return new Case("text/plain", method, url, who, Utf8(valid), "text/plain", 415);
            yield return new Case("form content type", method, url, who, Utf8("email=a&password=b"), "application/x-www-form-urlencoded", 415);
            yield return new Case("XML content type", method, url, who, Utf8("<a/>"), "application/xml", 415);
            yield return new Case("no content type", method, url, who, Utf8(valid), null, 415);
            yield return new Case("JSON in latin1", method, url, who, Utf8(valid), "application/json; charset=iso-8859-1", 415);
            yield return new Case("deeply nested", method, url, who, Utf8(new string('[', 2000) + new string(']', 2000)), Json, 400);
        }

        // Register
        yield return Body("NUL in email", "POST", "/api/auth/register", As.Anonymous, """{"email":"a\u0000b@example.com","password":"long-enough-password"}""", 400, "email");
        yield return Body("NUL in password", "POST", "/api/auth/register", As.Anonymous, """{"email":"nul@example.com","password":"long-enough\u0000password"}""", 400, "password");
        yield return Body("lone high surrogate in email", "POST", "/api/auth/register", As.Anonymous, """{"email":"a\ud800@example.com","password":"long-enough-password"}""", 400, "email");
        yield return Body("lone low surrogate in password", "POST", "/api/auth/register", As.Anonymous, """{"email":"ls@example.com","password":"long-enough\udc00password"}""", 400, "password");
        yield return new Case("raw lone surrogate in email", "POST", "/api/auth/register", As.Anonymous, WithBytes("{\"email\":\"a", rawSurrogate, "@example.com\",\"password\":\"long-enough-password\"}"), Json, 400, "email");
        yield return Body("email is a number", "POST", "/api/auth/register", As.Anonymous, """{"email":42,"password":"long-enough-password"}""", 400, "email");
        yield return Body("email is an object", "POST", "/api/auth/register", As.Anonymous, """{"email":{},"password":"long-enough-password"}""", 400, "email");
        yield return Body("email null", "POST", "/api/auth/register", As.Anonymous, """{"email":null,"password":"long-enough-password"}""", 400, "email");
        yield return Body("missing password", "POST", "/api/auth/register", As.Anonymous, """{"email":"x@example.com"}""", 400, "password");
        yield return Body("email too long", "POST", "/api/auth/register", As.Anonymous, $$"""{"email":"{{new string('a', 250)}}@example.com","password":"long-enough-password"}""", 400, "email");
        yield return Body("password too long", "POST", "/api/auth/register", As.Anonymous, $$"""{"email":"p@example.com","password":"{{new string('p', 200)}}"}""", 400, "password");
        yield return Body("injection-looking email", "POST", "/api/auth/register", As.Anonymous, """{"email":"' OR 1=1; DROP TABLE orderevents.mt_doc_user; --","password":"long-enough-password"}""", 400, "email");
        // Login
        yield return Body("NUL in login email", "POST", "/api/auth/login", As.Anonymous, """{"email":"a\u0000@example.com","password":"x"}""", 400, "email");
        yield return Body("lone surrogate in login email", "POST", "/api/auth/login", As.Anonymous, """{"email":"\ud800","password":"x"}""", 400, "email");
        yield return new Case("raw lone surrogate in login password", "POST", "/api/auth/login", As.Anonymous, WithBytes("{\"email\":\"a@example.com\",\"password\":\"", rawSurrogate, "\"}"), Json, 400, "password");
        yield return Body("login fields null", "POST", "/api/auth/login", As.Anonymous, """{"email":null,"password":null}""", 401);
        yield return Body("login fields missing", "POST", "/api/auth/login", As.Anonymous, "{}", 401);
        yield return Body("login password is an array", "POST", "/api/auth/login", As.Anonymous, """{"email":"a@example.com","password":[]}""", 400, "password");
        yield return Body("login injection", "POST", "/api/auth/login", As.Anonymous, """{"email":"admin@tests.local' --","password":"' OR '1'='1"}""", 401);
        // Create product
        yield return Body("product as a user", "POST", "/api/products", As.User, """{"name":"Lamp","price":10}""", 403);
        yield return Body("product anonymous", "POST", "/api/products", As.Anonymous, """{"name":"Lamp","price":10}""", 401);
        yield return Body("NUL in product name", "POST", "/api/products", As.Admin, """{"name":"La\u0000mp","price":10}""", 400, "name");
        yield return Body("lone surrogate in product name", "POST", "/api/products", As.Admin, """{"name":"Lamp\udfff","price":10}""", 400, "name");
        yield return new Case("raw lone surrogate in product name", "POST", "/api/products", As.Admin, WithBytes("{\"name\":\"La", rawSurrogate, "mp\",\"price\":10}"), Json, 400, "name");
        yield return Body("price is text", "POST", "/api/products", As.Admin, """{"name":"Lamp","price":"cheap"}""", 400, "price");
        yield return Body("price huge", "POST", "/api/products", As.Admin, """{"name":"Lamp","price":1e40}""", 400, "price");
        yield return Body("price too precise", "POST", "/api/products", As.Admin, """{"name":"Lamp","price":10.001}""", 400, "price");
        yield return Body("price too many digits", "POST", "/api/products", As.Admin, """{"name":"Lamp","price":12345678901234567890.5}""", 400, "price");
        yield return Body("price negative", "POST", "/api/products", As.Admin, """{"name":"Lamp","price":-1}""", 400, "price");
        yield return Body("price missing", "POST", "/api/products", As.Admin, """{"name":"Lamp"}""", 400, "price");
        yield return Body("status unknown", "POST", "/api/products", As.Admin, """{"name":"Lamp","price":10,"status":"DELETED"}""", 400, "status");
        yield return Body("status as integer", "POST", "/api/products", As.Admin, """{"name":"Lamp","price":10,"status":1}""", 400, "status");
        yield return Body("name null", "POST", "/api/products", As.Admin, """{"name":null,"price":10}""", 400, "name");
        yield return Body("name too long", "POST", "/api/products", As.Admin, $$"""{"name":"{{new string('n', 201)}}","price":10}""", 400, "name");
        yield return Body("injection in name, bad price", "POST", "/api/products", As.Admin, """{"name":"x'); DROP TABLE orderevents.mt_doc_product; --","price":0}""", 400, "price");
        // Update product
        yield return Body("patch price zero", "PATCH", $"/api/products/{productId}", As.Admin, """{"price":0}""", 400, "price");
        yield return Body("patch name empty", "PATCH", $"/api/products/{productId}", As.Admin, """{"name":""}""", 400, "name");
        yield return Body("patch NUL name", "PATCH", $"/api/products/{productId}", As.Admin, """{"name":"\u0000"}""", 400, "name");
        yield return Body("patch lone surrogate in name", "PATCH", $"/api/products/{productId}", As.Admin, """{"name":"\ud83d"}""", 400, "name");
        yield return new Case("patch raw lone surrogate in name", "PATCH", $"/api/products/{productId}", As.Admin, WithBytes("{\"name\":\"", rawSurrogate, "\"}"), Json, 400, "name");
        yield return Body("patch non-numeric id", "PATCH", "/api/products/abc", As.Admin, """{"name":"Lamp"}""", 404);
        yield return Body("patch id beyond long", "PATCH", "/api/products/99999999999999999999", As.Admin, """{"name":"Lamp"}""", 404);
        yield return Body("patch injection id", "PATCH", "/api/products/1%20OR%201=1", As.Admin, """{"name":"Lamp"}""", 404);
        yield return Body("patch unknown id", "PATCH", "/api/products/424242", As.Admin, """{"name":"Lamp"}""", 404);
        yield return Body("patch as a user", "PATCH", $"/api/products/{productId}", As.User, """{"name":"Lamp"}""", 403);
        // Create order
        yield return Body("items null", "POST", "/api/orders", As.User, """{"items":null}""", 400, "items");
        yield return Body("items an object", "POST", "/api/orders", As.User, """{"items":{"productId":1}}""", 400, "items");
        yield return Body("quantity huge", "POST", "/api/orders", As.User, """{"items":[{"productId":1,"quantity":10000000000}]}""", 400, "items[0].quantity");
        yield return Body("quantity fractional", "POST", "/api/orders", As.User, """{"items":[{"productId":1,"quantity":1.5}]}""", 400, "items[0].quantity");
        yield return Body("quantity text", "POST", "/api/orders", As.User, """{"items":[{"productId":1,"quantity":"many"}]}""", 400, "items[0].quantity");
        yield return Body("quantity negative", "POST", "/api/orders", As.User, """{"items":[{"productId":1,"quantity":-1}]}""", 400, "items[0].quantity");
        yield return Body("productId beyond long", "POST", "/api/orders", As.User, """{"items":[{"productId":9223372036854775808,"quantity":1}]}""", 400, "items[0].productId");
        yield return Body("productId negative", "POST", "/api/orders", As.User, """{"items":[{"productId":-1,"quantity":1}]}""", 400, "items[0].productId");
        yield return Body("productId injection", "POST", "/api/orders", As.User, """{"items":[{"productId":"1; DELETE FROM orderevents.mt_doc_order","quantity":1}]}""", 400, "items[0].productId");
        yield return Body("productId a lone surrogate", "POST", "/api/orders", As.User, """{"items":[{"productId":"\ud800","quantity":1}]}""", 400, "items[0].productId");
        yield return new Case("raw lone surrogate in an item's unknown field", "POST", "/api/orders", As.User, WithBytes("{\"items\":[{\"productId\":1,\"quantity\":1,\"note\":\"", rawSurrogate, "\"}]}"), Json, 400, "items[0].note");
        yield return Body("unknown field in an item", "POST", "/api/orders", As.User, """{"items":[{"productId":1,"quantity":1,"price":0.01}]}""", 400, "items[0].price");
        yield return Body("order anonymous", "POST", "/api/orders", As.Anonymous, """{"items":[{"productId":1,"quantity":1}]}""", 401);
        yield return Body("order of an unknown product", "POST", "/api/orders", As.User, """{"items":[{"productId":424242,"quantity":1}]}""", 404);
        // Reads and transitions with bad path ids and paging
        foreach (var path in new[] { "/api/orders/abc", "/api/orders/99999999999999999999", "/api/orders/1%27%20OR%20%271%27=%271", "/api/orders/-1" })
            yield return new Case("bad order id", "GET", path, As.User, null, null, 404);
        foreach (var action in new[] { "pay", "cancel" })
        {
            yield return new Case("bad order id", "PATCH", $"/api/orders/abc/{action}", As.User, null, null, 404);
            yield return new Case("someone else's or missing order", "PATCH", $"/api/orders/424242/{action}", As.User, null, null, 404);
            yield return new Case("oversized body on a body-less endpoint", "PATCH", $"/api/orders/{orderId}/{action}", As.User, huge, Json, 413);
        }

        foreach (var path in new[] { "/api/products/abc", "/api/products/99999999999999999999", "/api/products/0" })
            yield return new Case("bad product id", "GET", path, As.Anonymous, null, null, 404);
        foreach (var list in new[] { "/api/orders", "/api/notifications" })
        {
            foreach (var query in new[] { "page=2147483648", "pageSize=-2147483649", "page=abc", "page=1.5", "pageSize=1e3", "page=1;DROP%20TABLE%20x" })
                yield return new Case("unparseable paging", "GET", $"{list}?{query}", As.User, null, null, 400);
            // In range for an int but absurd: clamped (documented), never an overflow.
            foreach (var query in new[] { "page=2147483647&pageSize=2147483647", "page=-2147483648&pageSize=-2147483648", "page=0&pageSize=0" })
                yield return new Case("extreme paging is clamped", "GET", $"{list}?{query}", As.User, null, null, 200);
            yield return new Case("list anonymous", "GET", list, As.Anonymous, null, null, 401);
        }

        yield return new Case("me anonymous", "GET", "/api/auth/me", As.Anonymous, null, null, 401);
    }

    [Fact]
    public async Task every_bad_request_to_every_endpoint_is_a_4xx_problem_that_changes_nothing_and_logs_no_error()
    {
        var user = await RegisterAndLogin();
        var admin = await LoginAsAdmin();
        var order = await Host.Scenario(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(201);
        });
        var orderId = (await order.Json()).GetProperty("id").GetInt64();
        const long productId = 2;
        // The order's event must be handled before the "before" snapshot, or its notification would look like a change.
        await WaitUntilNotified(user);

        var cases = Cases(productId, orderId).ToList();
        var before = await DatabaseSnapshot();
        Fixture.Logs.Clear();
        var failures = new List<string>();

        foreach (var c in cases)
        {
            var result = await Host.Scenario(s =>
            {
                s.ConfigureHttpContext(context =>
                {
                    context.Request.Method = c.Method;
                    context.Request.Path = new PathString(c.Url.Split('?')[0]);
                    context.Request.QueryString = c.Url.Contains('?') ? new QueryString("?" + c.Url.Split('?', 2)[1]) : QueryString.Empty;
                    if (c.Body is not null)
                    {
                        context.Request.Body = new MemoryStream(c.Body);
                        context.Request.ContentLength = c.Body.Length;
                    }

                    if (c.ContentType is not null) context.Request.ContentType = c.ContentType;
                });
                if (c.Who == As.User) s.WithBearerToken(user.Token);
                if (c.Who == As.Admin) s.WithBearerToken(admin.Token);
                s.IgnoreStatusCode();
            });

            var status = result.Context.Response.StatusCode;
            var text = await result.ReadAsTextAsync();
            if (status != c.Expected) failures.Add($"{c}: expected {c.Expected}, got {status} {Shorten(text)}");
            else if (status >= 400 && !(result.Context.Response.ContentType ?? "").StartsWith("application/problem+json"))
                failures.Add($"{c}: {status} without a ProblemDetails body ({result.Context.Response.ContentType})");
            else if (c.Field is not null && !text.Contains($"\"{c.Field}\""))
                failures.Add($"{c}: the 400 does not name '{c.Field}': {Shorten(text)}");
            else if (text.Contains("System.") || text.Contains("   at "))
                failures.Add($"{c}: the body shows .NET internals: {Shorten(text)}");
        }

        failures.ShouldBeEmpty($"{failures.Count} of {cases.Count} cases failed:\n" + string.Join("\n", failures));
        (await DatabaseSnapshot()).ShouldBe(before, "a bad request changed the database");
        var errors = Fixture.Logs.Entries.Where(e => e.Level >= LogLevel.Error || e.Exception is not null).ToList();
        errors.ShouldBeEmpty(string.Join("\n", errors.Select(e => $"{e.Level} {e.Category}: {Shorten(e.Message)}")));
    }

    private async Task WaitUntilNotified(TestUser user)
    {
        var deadline = DateTime.UtcNow + TrackingTimeout;
        while ((await NotificationsOf(user)).Count == 0)
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, "the order's notification never arrived");
            await Task.Delay(50);
        }
    }

    /// <summary>Row count and a digest of every row of every table the app writes (documents, the event log, notifications and Wolverine's envelopes).</summary>
    private async Task<string> DatabaseSnapshot()
    {
        var tables = new[]
        {
            "orderevents.mt_doc_user", "orderevents.mt_doc_product", "orderevents.mt_doc_order", "orderevents.mt_events", "orderevents.mt_streams",
            "notifications.notifications", "orderevents.wolverine_outgoing_envelopes", "orderevents.wolverine_incoming_envelopes",
        };
        var parts = new List<string>();
        foreach (var table in tables)
            parts.Add($"{table}: " + await Sql.ScalarAsync(Fixture.ConnectionString,
                $"select count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '-') from {table} t"));
        return string.Join("\n", parts);
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
