#!/usr/bin/env bash
# Packs the code-free Patched.DistributedLock.Core bridge into eng/local-feed (see the nuspec for why).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/Bridge.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>netstandard2.0</TargetFramework>
    <NuspecFile>$here/Patched.DistributedLock.Core.nuspec</NuspecFile>
    <NoWarn>NU5128</NoWarn>
    <ImportDirectoryBuildProps>false</ImportDirectoryBuildProps>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
</Project>
XML
dotnet pack "$work/Bridge.csproj" -o "$here/../local-feed" --nologo -v q
