using Recorder.Depot.Config;

namespace Recorder.Depot.Tests.Catalog;

/// <summary>depot.yaml's <c>schemas</c> and <c>profiles</c> sections: read, and refused with exact errors like every other key.</summary>
public sealed class CatalogWatchConfigTests
{
    private const string Hash = "3b0f4bd4ef4f6e8ba1c0c8ff6c4ce4ab2f0d9f9c5d6c0c1e2a3b4c5d6e7f8091";

    [Fact]
    public void Schema_pins_and_profile_fields_are_read_from_depot_yaml()
    {
        var defaults = DepotConfigLoader.Load(null).Settings!;
        Assert.Empty(defaults.Schemas.Pinned);
        Assert.Empty(defaults.Profiles.Topics);
        Assert.Equal(8, defaults.Profiles.DefaultFields);
        var result = DepotConfigLoader.LoadFromText($"""
            schemas:
              pinned:
                /imu: {Hash}
            profiles:
              topics:
                /imu: [accel.x, accel.y]
                /gps: []
              default_fields: 3
            """, "depot.yaml");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(Hash, result.Settings!.Schemas.Pinned["/imu"]);
        Assert.Equal(["accel.x", "accel.y"], result.Settings.Profiles.Topics["/imu"]);
        Assert.Empty(result.Settings.Profiles.Topics["/gps"]);
        Assert.Equal(3, result.Settings.Profiles.DefaultFields);
    }

    [Fact]
    public void Bad_schema_pins_and_profile_settings_get_exact_errors()
    {
        Assert.Equal("depot.yaml:1:28: schemas.pinned./imu: expected the schema's SHA-256 as 64 lowercase hex digits (the schema_sha256 of /api/schema-changes), got 'abc'",
            Assert.Single(DepotConfigLoader.LoadFromText("schemas: { pinned: { /imu: abc } }\n", "depot.yaml").Errors).ToString());
        Assert.Equal("depot.yaml:1:12: unknown key 'pins' in 'schemas' (known keys: pinned)",
            Assert.Single(DepotConfigLoader.LoadFromText("schemas: { pins: {} }\n", "depot.yaml").Errors).ToString());
        Assert.Equal("depot.yaml:1:29: profiles.default_fields is from 0 to 64, not 65",
            Assert.Single(DepotConfigLoader.LoadFromText("profiles: { default_fields: 65 }\n", "depot.yaml").Errors).ToString());
        Assert.Equal("depot.yaml:1:29: profiles.topics./imu: 'accel..x' is not a field path (names joined by dots, like accel.x)",
            Assert.Single(DepotConfigLoader.LoadFromText("profiles: { topics: { /imu: [accel..x] } }\n", "depot.yaml").Errors).ToString());
        Assert.Equal("depot.yaml:1:21: profiles.topics: expected a mapping of topics to lists of fields, got a list",
            Assert.Single(DepotConfigLoader.LoadFromText("profiles: { topics: [a] }\n", "depot.yaml").Errors).ToString());
        Assert.StartsWith("depot.yaml:1:29: profiles.topics./imu: expected a list",
            Assert.Single(DepotConfigLoader.LoadFromText("profiles: { topics: { /imu: accel.x } }\n", "depot.yaml").Errors).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_example_configuration_declares_schemas_and_profiles_with_their_defaults()
    {
        var example = DepotConfigLoader.Load(Path.Combine(Mcap.Tests.RepoPaths.Root, "config", "depot.example.yaml"));
        Assert.True(example.Succeeded, string.Join("\n", example.Errors));
        Assert.Equal(DepotConfigLoader.Load(null).Settings!.Profiles.DefaultFields, example.Settings!.Profiles.DefaultFields);
        Assert.Empty(example.Settings.Schemas.Pinned);
    }
}
