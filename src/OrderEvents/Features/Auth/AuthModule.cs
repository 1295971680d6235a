using Marten;

namespace OrderEvents.Features.Auth;

public static class AuthModule
{
    public static WebApplicationBuilder AddUsers(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureMarten(options => options.Schema.For<User>().UniqueIndex(user => user.Email));
        return builder;
    }
}
