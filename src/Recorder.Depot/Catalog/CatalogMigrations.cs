namespace Recorder.Depot.Catalog;

/// <summary>
/// The catalog's schema, as numbered migrations shared by SQLite and PostgreSQL (placeholders:
/// see <see cref="CatalogDialect.Ddl"/>). A database records each applied version in
/// <c>catalog_migrations</c>; a migration is applied once, in one transaction, in order. Append
/// new versions; never edit a released one.
/// </summary>
public static class CatalogMigrations
{
    public static readonly IReadOnlyList<(int Version, string Description, string[] Statements)> All =
    [
        (1, "recordings, files, topics, video, metadata, events, devices", [
            """
            CREATE TABLE recordings (
                id {id},
                group_key {text} NOT NULL UNIQUE,
                device_id {text} NOT NULL,
                name {text} NOT NULL,
                status {text} NOT NULL,
                error {text},
                start_ns BIGINT NOT NULL,
                end_ns BIGINT NOT NULL,
                messages BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                software_version {text},
                vehicle {text},
                operator {text},
                library {text},
                drops BIGINT NOT NULL,
                gaps BIGINT NOT NULL,
                fingerprint {text} NOT NULL,
                cataloged_ns BIGINT NOT NULL
            )
            """,
            // Listing is newest first by (start_ns, id); each filter has an index that yields that order.
            "CREATE INDEX recordings_by_start ON recordings (start_ns, id)",
            "CREATE INDEX recordings_by_device ON recordings (device_id, start_ns, id)",
            "CREATE INDEX recordings_by_software ON recordings (software_version, start_ns, id)",
            "CREATE INDEX recordings_with_drops ON recordings (start_ns, id) WHERE drops > 0",
            """
            CREATE TABLE recording_files (
                recording_id BIGINT NOT NULL,
                name {text} NOT NULL,
                kind {text} NOT NULL,
                size BIGINT NOT NULL,
                sha256 {text} NOT NULL,
                PRIMARY KEY (recording_id, name)
            )
            """,
            """
            CREATE TABLE recording_topics (
                recording_id BIGINT NOT NULL,
                topic {text} NOT NULL,
                messages BIGINT NOT NULL,
                bytes BIGINT,
                rate_hz DOUBLE PRECISION NOT NULL,
                message_encoding {text} NOT NULL,
                schema_name {text},
                schema_encoding {text},
                schema_sha256 {text},
                drops BIGINT NOT NULL,
                refused BIGINT NOT NULL,
                max_gap_ns BIGINT,
                PRIMARY KEY (recording_id, topic)
            )
            """,
            "CREATE INDEX topics_by_topic ON recording_topics (topic, recording_id)",
            """
            CREATE TABLE recording_video (
                recording_id BIGINT NOT NULL,
                topic {text} NOT NULL,
                codec {text} NOT NULL,
                store {text} NOT NULL,
                width BIGINT NOT NULL,
                height BIGINT NOT NULL,
                frames BIGINT NOT NULL,
                keyframes BIGINT NOT NULL,
                fps DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (recording_id, topic)
            )
            """,
            """
            CREATE TABLE recording_metadata (
                recording_id BIGINT NOT NULL,
                record {text} NOT NULL,
                ordinal INTEGER NOT NULL,
                key {text} NOT NULL,
                value {text} NOT NULL,
                PRIMARY KEY (recording_id, ordinal, key)
            )
            """,
            "CREATE INDEX metadata_by_key ON recording_metadata (key, value, recording_id)",
            "CREATE INDEX metadata_by_value ON recording_metadata (value, recording_id)",
            """
            CREATE TABLE events (
                id {id},
                recording_id BIGINT NOT NULL,
                device_id {text} NOT NULL,
                time_ns BIGINT NOT NULL,
                type {text} NOT NULL,
                text {text} NOT NULL,
                fields {text} NOT NULL
            )
            """,
            "CREATE INDEX events_by_time ON events (time_ns, id)",
            "CREATE INDEX events_by_device ON events (device_id, time_ns, id)",
            "CREATE INDEX events_by_recording ON events (recording_id)",
            // Event text search: each lowercase word of an event's text, matched by prefix on this index.
            """
            CREATE TABLE event_terms (
                term {text} NOT NULL,
                event_id BIGINT NOT NULL,
                recording_id BIGINT NOT NULL,
                PRIMARY KEY (term, event_id)
            )
            """,
            "CREATE INDEX event_terms_by_recording ON event_terms (recording_id)",
            // Per device, recomputed from its recordings whenever one of them is cataloged.
            """
            CREATE TABLE devices (
                device_id {text} PRIMARY KEY,
                last_seen_ns BIGINT NOT NULL,
                recordings BIGINT NOT NULL,
                recorded_ns BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                software_version {text},
                drops BIGINT NOT NULL,
                gaps BIGINT NOT NULL,
                unparseable BIGINT NOT NULL,
                longest_ns BIGINT NOT NULL
            )
            """,
            "CREATE INDEX devices_by_longest ON devices (longest_ns)",
        ]),
        (2, "field profiles (KLL sketches), schema pin breaches, analysis state", [
            // One row per (recording, topic, field, UTC day of the messages); the sketch is a KllSketch, base64.
            """
            CREATE TABLE field_profiles (
                recording_id BIGINT NOT NULL,
                topic {text} NOT NULL,
                field {text} NOT NULL,
                day BIGINT NOT NULL,
                count BIGINT NOT NULL,
                nulls BIGINT NOT NULL,
                min DOUBLE PRECISION,
                max DOUBLE PRECISION,
                sum DOUBLE PRECISION NOT NULL,
                sketch {text} NOT NULL,
                PRIMARY KEY (recording_id, topic, field, day)
            )
            """,
            "CREATE INDEX field_profiles_by_field ON field_profiles (topic, field, day)",
            """
            CREATE TABLE schema_pin_breaches (
                recording_id BIGINT NOT NULL,
                topic {text} NOT NULL,
                pinned_sha256 {text} NOT NULL,
                schema_sha256 {text},
                PRIMARY KEY (recording_id, topic)
            )
            """,
            // Which .mcap (sha256) under which settings each recording was analyzed with: it is analyzed again when either changes.
            """
            CREATE TABLE recording_analysis (
                recording_id BIGINT PRIMARY KEY,
                mcap_sha256 {text} NOT NULL,
                settings_sha256 {text} NOT NULL,
                error {text},
                analyzed_ns BIGINT NOT NULL
            )
            """,
        ]),
        // The web page's recordings list sorts by duration or size as well as by time (sort= in /api/recordings).
        (3, "recordings by duration and by size", [
            "CREATE INDEX recordings_by_duration ON recordings ((end_ns - start_ns), id)",
            "CREATE INDEX recordings_by_size ON recordings (bytes, id)",
        ]),
    ];

    /// <summary>The newest schema version this build knows.</summary>
    public static int Latest => All[^1].Version;
}
