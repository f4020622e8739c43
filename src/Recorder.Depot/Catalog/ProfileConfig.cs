using Recorder.Config.Loading;
using Recorder.Depot.Config;
using YamlDotNet.RepresentationModel;

namespace Recorder.Depot.Catalog;

/// <summary>Reads and checks depot.yaml's <c>profiles:</c> section (<c>topics: {/imu: [accel.x, …]}</c>, <c>default_fields: N</c>).</summary>
internal static class ProfileConfig
{
    public static ProfileSettings Read(YamlReader r, YamlNode value, string path, IReadOnlyList<string> keys, ProfileSettings profiles)
    {
        ArgumentNullException.ThrowIfNull(r);
        foreach (var (key, v, p) in r.Keys(value, path, keys))
        {
            if (key == "default_fields")
            {
                if (r.Int(v, p, out var n)) profiles = profiles with { DefaultFields = n };
                continue;
            }
            if (YamlReader.IsNull(v)) continue;
            if (v is not YamlMappingNode mapping)
            {
                r.Fail(v, p, $"{p}: expected a mapping of topics to lists of fields, got {YamlReader.Describe(v)}");
                continue;
            }
            var topics = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            foreach (var (topicNode, fieldsNode) in mapping.Children)
            {
                if (topicNode is not YamlScalarNode { Value: { Length: > 0 } topic })
                {
                    r.Error(topicNode, $"{p}: expected a topic name, got {YamlReader.Describe(topicNode)}");
                    continue;
                }
                var fieldsPath = p + "." + topic;
                r.Map.Set(fieldsPath, r.LocationOf(fieldsNode));
                if (r.StringList(fieldsNode, fieldsPath, out var fields)) topics[topic] = fields;
            }
            profiles = profiles with { Topics = topics };
        }
        return profiles;
    }

    public static void Validate(ProfileSettings profiles, SourceMap map, Action<string, string> error)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(error);
        if (!map.Failed("profiles.default_fields") && profiles.DefaultFields is < 0 or > ProfileSettings.MaxFields)
            error("profiles.default_fields", $"profiles.default_fields is from 0 to {ProfileSettings.MaxFields}, not {profiles.DefaultFields}");
        foreach (var (topic, fields) in profiles.Topics)
        {
            var path = "profiles.topics." + topic;
            if (map.Failed(path)) continue;
            if (fields.Count > ProfileSettings.MaxFields) error(path, $"{path}: at most {ProfileSettings.MaxFields} fields, got {fields.Count}");
            foreach (var field in fields)
                if (field.Length == 0 || field.Split('.').Any(part => part.Length == 0 || part.Any(char.IsWhiteSpace)))
                    error(path, $"{path}: '{field}' is not a field path (names joined by dots, like accel.x)");
            if (fields.Distinct(StringComparer.Ordinal).Count() != fields.Count) error(path, $"{path}: a field is listed twice");
        }
    }
}
