using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace OrderEvents.Tests.Support;

public sealed record SseEvent(string? Id, string? Type, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement.Clone();
}

/// <summary>A minimal Server-Sent Events reader over a streaming HTTP response (the test server streams too).</summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;
    private readonly CancellationTokenSource _closed = new();

    private SseClient(HttpResponseMessage response, Stream body)
    {
        _response = response;
        _reader = new StreamReader(body, Encoding.UTF8);
    }

    public HttpResponseMessage Response => _response;

    public static async Task<SseClient> ConnectAsync(HttpClient client, string? token, string? lastEventId = null,
        string path = "/api/notifications/stream")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (token != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (lastEventId != null) request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new SseClient(response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>The stream's own signals seen so far (`ready`, `heartbeat`, `connecting` events, and any comment).</summary>
    public List<string> Comments { get; } = [];

    private static readonly string[] Signals = ["ready", "heartbeat", "connecting"];

    /// <summary>Waits for the stream's `ready` event: from then on every notification stored is delivered.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Comments.Contains("ready"))
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero) throw new TimeoutException("The stream never said it was ready");
            await ReadBlockAsync(remaining);
        }
    }

    /// <summary>The next event (signals are collected on the way), or a TimeoutException.</summary>
    public async Task<SseEvent> NextEventAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero) throw new TimeoutException("No event arrived in time");
            if (await ReadBlockAsync(remaining) is { } sse) return sse;
        }
    }

    /// <summary>Reads one block (up to a blank line): an event, or null for a signal or a block of comments.</summary>
    private async Task<SseEvent?> ReadBlockAsync(TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
        cts.CancelAfter(timeout);
        string? id = null, type = null;
        var data = new StringBuilder();
        var sawData = false;
        while (true)
        {
            string? line;
            try { line = await _reader.ReadLineAsync(cts.Token); }
            catch (OperationCanceledException) { throw new TimeoutException("Nothing arrived on the stream in time"); }
            if (line == null) throw new EndOfStreamException("The server closed the stream");
            if (line.Length == 0 && type is not null && Signals.Contains(type))
            {
                Comments.Add(type);
                return null;
            }

            if (line.Length == 0) return sawData ? new SseEvent(id, type, data.ToString()) : null;
            if (line.StartsWith(':')) { Comments.Add(line[1..].Trim()); continue; }
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": type = value; break;
                case "data":
                    if (sawData) data.Append('\n');
                    data.Append(value);
                    sawData = true;
                    break;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _closed.CancelAsync();
        _reader.Dispose();
        _response.Dispose();
    }
}
