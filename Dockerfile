# syntax=docker/dockerfile:1
# Build: restore from the project files alone (a cached layer until a project file or package version changes),
# then build and publish a Release build.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props OrderEvents.sln ./
COPY src/Directory.Build.props src/
COPY src/OrderEvents/OrderEvents.csproj src/OrderEvents/
RUN dotnet restore src/OrderEvents/OrderEvents.csproj -r linux-x64
COPY src/ src/
# For linux-x64: ReadyToRun (precompiled), so the container serves sooner after a start (docs/benchmarks.md).
RUN dotnet publish src/OrderEvents/OrderEvents.csproj -c Release -r linux-x64 --self-contained false --no-restore -o /app

# Run: the ASP.NET runtime only, as the image's non-root user (uid 1654, "app").
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_URLS=http://+:8080 \
    ASPNETCORE_ENVIRONMENT=Production
USER app
EXPOSE 8080
# The runtime image has no curl or wget: bash's /dev/tcp sends the request, and the check passes on a 200 status.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health/ready HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dotnet", "OrderEvents.dll"]
