using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Recorder.Recording;

namespace Recorder.Ingest.Tests;

/// <summary>The ingest stage meets the recording stage only through its intake contract.</summary>
public class ContractTests
{
    /// <summary>The recording stage's types that the compiled ingest assembly refers to, by name.</summary>
    private static HashSet<string> RecordingTypesNamedByIngest()
    {
        using var stream = File.OpenRead(typeof(IngestContext).Assembly.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var handle in metadata.TypeReferences)
        {
            var type = metadata.GetTypeReference(handle);
            if (metadata.GetString(type.Namespace) == typeof(IRecordingIntake).Namespace) names.Add(metadata.GetString(type.Name));
        }
        return names;
    }

    [Fact]
    public void Ingest_names_none_of_the_queue_registry_or_batch_classes_of_the_recording_stage()
    {
        var named = RecordingTypesNamedByIngest();

        // The contract is there (so this look is not at an empty list) ...
        Assert.Contains(nameof(IRecordingIntake), named);
        Assert.Contains(nameof(ProducerBatches), named);
        // ... and the recording stage's internals are not.
        Assert.DoesNotContain(nameof(BatchQueue), named);
        Assert.DoesNotContain(nameof(ChannelRegistry), named);
        Assert.DoesNotContain(nameof(MessageBatch), named);
        Assert.DoesNotContain(nameof(BatchMemory), named);
        Assert.DoesNotContain(nameof(RecordingWriter), named);
    }
}
