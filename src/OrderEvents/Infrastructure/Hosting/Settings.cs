using Microsoft.Extensions.Options;

namespace OrderEvents.Infrastructure.Hosting;

public static class Settings
{
    /// <summary>
    /// Every settings class is registered this one way: bound from its configuration section (null: from the root,
    /// each property naming its key with [ConfigurationKeyName]), checked by its data annotations (and
    /// IValidatableObject) when the host starts, so a bad value stops start-up naming the setting, and injectable both
    /// as IOptions&lt;T&gt; and as T. Returns the bound values for set-up code that runs before the host exists
    /// (Wolverine's options); the host refuses to start if they are invalid.
    /// </summary>
    public static T AddSettings<T>(this WebApplicationBuilder builder, string? section) where T : class, new()
    {
        IConfiguration source = section is null ? builder.Configuration : builder.Configuration.GetSection(section);
        builder.Services.AddOptions<T>().Bind(source).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(services => services.GetRequiredService<IOptions<T>>().Value);
        return source.Get<T>() ?? new T();
    }
}
