using OrderEvents;
using OrderEvents.Infrastructure.Cli;

var builder = WebApplication.CreateBuilder(args);
builder.AddOrderEvents(args);
var app = builder.Build();
app.MapOrderEvents();
return await app.RunCommandsAsync(args);

/// <summary>Entry point, visible to the Alba test host.</summary>
public partial class Program;
