namespace Recorder.Cli;

/// <summary>
/// `recorder help [TOPIC]` and `recorder VERB --help`: the manual. The package ships no man page;
/// this is it (README.md has the same in prose).
/// </summary>
public static class Help
{
    public const string Usage = """
        usage: recorder <command> [options]        recorder help <command|topic>     recorder <command> --help

        Record:
          run [--config FLEET.yaml] [--device DEVICE.yaml] [--demo] [--verbose]
                                             the daemon (systemd runs it as recorder.service)
          demo [--socket PATH | --config F] [--duration S]
                                             built-in producers (IMU, GPS, diagnostics) into a running daemon
          publish --topic T [--encoding json] [--socket PATH | --config F]
                                             stdin lines become messages on topic T
          status [--json|--prometheus] | split | mark TEXT | operator NAME | reload     [--socket PATH | --config F]
                                             talk to the running daemon over its control socket
          offload now|pause|resume|status [--json]     [--socket PATH | --config F]
                                             offload to the depot: start a session now, pause, resume;
                                             status is live (per file: progress, rate, ETA) in a terminal
          loadgen --socket PATH [--producers N] [--size BYTES] [--rate MSGS_PER_S|max] [--duration S] [--json]
                                             N MCAP producers at a fixed rate or flat out; reports msgs/s and MB/s
          loadgen --video CLIP.h264 --socket PATH [--socket PATH]... [--duration S] [--json]
                                             one camera per socket looping a raw clip flat out; frames/s, MB/s

        Inspect and repair MCAP files:
          info FILE [--json]                 summary: duration, topics, rates, schemas, chunks, compression
          cat FILE [--topic T]... [--start NS] [--end NS] [--json]
                                             print messages in log-time order
          doctor FILE [--strict]             check a file against the spec (and its .vidx against the
                                             MCAP); exit 1 on errors
          recover IN -o OUT                  rebuild a valid, indexed file from a truncated or damaged one
                                             (exit 0 nothing lost, 3 recovered with loss, 1 nothing recoverable)
          frames FILE [--topic T] [--json] [--rebuild]
                                             the video frame index (.vidx): every frame with its keyframe flag,
                                             then GOPs, keyframe interval, frame rate and gaps per topic;
                                             --rebuild regenerates it from the MCAP alone
          export-video FILE --topic T -o OUT.mp4 [--start NS] [--end NS]
                                             one video topic as MP4 (via ffmpeg, no re-encode), from the
                                             keyframe at or before --start, with the recorded timestamps
          version                            print the version

        Configuration:
          config check [--config FLEET.yaml] [--device DEVICE.yaml] [--unit UNIT] [--effective]
                       [--quiet | --errors-only]
                                             every error and warning as file:line:column: message (exit 1 on
                                             errors), else a summary, or with --effective the merged config

        Topics: recorder help service | files | config | reload | watchdog | environment | exit-codes

        """;

    private static readonly Dictionary<string, string> Topics = new(StringComparer.Ordinal)
    {
        ["run"] = """
            recorder run [--config FLEET.yaml] [--device DEVICE.yaml] [--demo] [--verbose]

            The recording daemon. Reads the configuration (see `recorder help config`), checks it
            like `config check` (errors: exit 1 before anything starts; warnings are printed), creates
            the ingest socket, the control socket and the declared FIFOs, finishes any `.active` file
            an earlier run left behind, and records every producer into MCAP files under
            recording.dir/DEVICE_ID/YYYY-MM-DD/.

            Signals: SIGTERM or SIGINT stop it: ingest closes, the writer drains the queue and
            finishes the open file (exit 0). SIGHUP reloads the configuration (`recorder help reload`).
            Under systemd it sends READY=1 once the sockets accept, STOPPING=1 when it stops, pings
            the watchdog (`recorder help watchdog`) and logs to the journal with priorities.

              --config F    the fleet file (default /etc/recorder/fleet.yaml when it exists)
              --device F    the device file (default /etc/recorder/device.yaml when it exists)
              --demo        also run the built-in demo producers (IMU 200 Hz, GPS 10 Hz, diagnostics 1 Hz, camera 10 fps)
              --verbose     debug logging

            Without any file it runs on the embedded defaults: recordings under ./recordings,
            sockets under ./run (a development checkout: `recorder run --demo`).
            """,
        ["config"] = """
            recorder config check [--config FLEET.yaml] [--device DEVICE.yaml] [--unit UNIT] [--effective]
                                  [--quiet | --errors-only]

            Loads the configuration exactly as `recorder run` would and prints every problem, one per
            line on stderr: errors as FILE:LINE:COLUMN: MESSAGE, warnings as
            FILE:LINE:COLUMN: warning: MESSAGE. Exit 1 when there is any error, else 0.

            Files: the fleet file (shared by a fleet; default /etc/recorder/fleet.yaml) and the device
            file (one per vehicle; default /etc/recorder/device.yaml). Each default is used only when
            the option is not given and the file exists; a file not used leaves the embedded defaults.
            Defaults apply first, then the fleet file, then the device file: each overrides only the
            keys it names. The device file has the device keys (device_id, device_version, vehicle,
            software_version, software_version_file, operator, extra) and may set any fleet key too:
            a mapping is merged key by key, a list (topics, ingest.include, ingest.exclude,
            metadata.required) replaces the fleet's list whole. Without device_id the device is named
            after its host name (a warning). Every key and its default: /usr/share/doc/recorder/examples/.

            Beyond the files it checks the machine, as the user it runs as (under systemd:
            ExecStartPre= runs it in the service's sandbox): a socket, a FIFO or recording.dir inside a
            read-only path is an error; storage.max_bytes larger than the volume of recording.dir is
            a warning. Checked as root, outside the sandbox, a path is writable that the service may
            not write: so, when the service unit is known, every path the daemon writes
            (recording.dir, the sockets' and FIFOs' directories, offload.state_dir) must be inside
            what the unit lets it write under ProtectSystem=strict (ReadWritePaths=, /run/recorder,
            /var/lib/recorder, its private /tmp), else it is an error with the fix:
              systemctl edit recorder   →   [Service]  ReadWritePaths=/srv/rec
            The unit is --unit UNIT (with its drop-ins in UNIT.d/), or, when the files checked are the
            packaged ones in /etc/recorder, the installed recorder.service with its drop-ins.
            Under systemd (JOURNAL_STREAM) errors carry the journal priority <3> and warnings <4>.

              --unit UNIT   check the paths against this unit file (and UNIT.d/*.conf)
              --effective   print the merged configuration as YAML, each value marked with the file,
                            line and column it came from (or `default`); the output is itself a
                            valid device file
              --quiet       print nothing but the problems
              --errors-only print the errors only (the unit's ExecStartPre=: `recorder run` prints
                            the warnings itself, once per start)
            """,
        ["reload"] = """
            recorder reload [--socket PATH | --config F]     (or: systemctl reload recorder, kill -HUP PID)

            Asks the daemon to re-read its configuration files and waits for the outcome; this is the
            unit's ExecReload=, so `systemctl reload recorder` is synchronous and truthful. The new
            configuration is checked first; with any error the daemon keeps the configuration in
            force, logs every error, and `recorder reload` prints them and exits 1. Otherwise it
            returns once the new configuration is in force (the writer has taken it) and prints
            every changed key, as "applied: ..." or "changed but only applied by a restart: ...".
            Without dropping a message or restarting the open file:
              - topics: ingest.include/exclude apply to connected producers at once; FIFO inputs added
                start, removed ones stop, unchanged ones keep running; the latched set changes;
                tags and frame_id reach the Channel records of the next file;
              - recording: chunk size and age, split size and duration, fsync from the next message;
                compression from the next file; storage settings at once;
              - device metadata that changed is written as a new recorder.device record;
              - offload.*: the offload stage restarts with the new settings (uploads resume from
                the depot's offset).
            ingest.socket, control_socket, ingest.queue, timestamps, reorder_window, recording.dir
            and device_id are bound at start-up: they are listed as needing `systemctl restart recorder`.
            Exit 1 also when the reload could not be put fully in force (the writer did not take it
            within 20 s, or the offload stage failed to start with the new settings).
            kill -HUP PID (or `systemctl kill -s HUP recorder`) reloads the same way, without an answer.
            With a fleet file that does not load, the control verbs use /run/recorder/control.sock
            (with a warning): the daemon answers with the file's errors.
            """,
        ["watchdog"] = """
            The systemd watchdog (WatchdogSec= in recorder.service; WATCHDOG_USEC in the environment).

            Every half interval the daemon sends WATCHDOG=1, but only while the write path makes
            progress: the writer thread is waiting for work, or its current operation (writing a
            batch, cutting a chunk, fsync, finishing or starting a file) has lasted less than half
            the interval. A stalled disk or a wedged writer stops the pings; the journal says
            "The writer has been stuck in one operation for N s", systemd kills the service with
            SIGABRT and Restart=on-failure starts it again, which recovers the unfinished file.
            """,
        ["service"] = """
            The Debian package installs recorder.service (Type=notify, hardened; `systemctl cat recorder`).

              systemctl status recorder        state, STATUS= line (messages, files, queue), recent log
              journalctl -u recorder           the log, with priorities (journalctl -p warning -u recorder)
              systemctl reload recorder        reload the configuration (see `recorder help reload`)
              systemctl restart recorder       needed for settings bound at start-up
              recorder status                  the daemon's own view: file, rates per topic, queue, disk

            It runs as the system user `recorder` (sysusers.d). Producers and operators that use the
            sockets must be in the `recorder` group: the daemon gives its sockets and FIFOs mode 0660
            whatever the umask (UMask=0027). Start fails when `recorder config check` finds an
            error (ExecStartPre=). Stopping waits up to TimeoutStopSec= for the open file to finish.
            Recording elsewhere than /data/recordings needs a drop-in with ReadWritePaths=:
              systemctl edit recorder   →   [Service]  ReadWritePaths=/mnt/ssd/recordings
            `recorder config check` (as root) says so when a path is outside the unit's writable paths.
            """,
        ["files"] = """
            /usr/bin/recorder                        this program (daemon and CLI)
            /etc/recorder/fleet.yaml                 the fleet's settings (conffile: local edits survive upgrades)
            /etc/recorder/device.yaml                this vehicle's identity and overrides (conffile)
            /usr/share/doc/recorder/examples/        fleet.example.yaml, device.example.yaml: every key and default
            /lib/systemd/system/recorder.service     the unit
            /usr/lib/sysusers.d/recorder.conf        the `recorder` system user and group
            /usr/lib/tmpfiles.d/recorder.conf        /data/recordings, owned by recorder
            /run/recorder/                           sockets and FIFOs (RuntimeDirectory=)
            /var/lib/recorder/                       state (StateDirectory=)
            /data/recordings/DEVICE/YYYY-MM-DD/      the recordings (never removed by the package)
            """,
        ["environment"] = """
            RECORDER_CONFIG_DIR   where the default fleet.yaml and device.yaml are looked for (/etc/recorder)
            RECORDER_RUNTIME_DIR  where the control verbs look for control.sock when the configuration
                                  does not load (/run/recorder)
            NOTIFY_SOCKET         set by systemd: READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1 go there
            WATCHDOG_USEC         set by systemd with WatchdogSec=: the watchdog interval
            WATCHDOG_PID          set by systemd: the watchdog applies only when it is this process
            JOURNAL_STREAM        set by systemd: logs, and errors and warnings on stderr, use the
                                  journal's <N> priority prefixes
            RECORDER_TEST_HOOKS   TEST ONLY. =1 enables the hidden `test-stall` control command that
                                  blocks the writer thread (the watchdog test uses it). Never set it on a vehicle.
            """,
        ["exit-codes"] = """
            0  success (run: stopped cleanly)
            1  error: bad configuration, the writer failed, a file problem, the daemon unreachable
            2  usage error
            3  recover: the file was recovered with loss
            """,
    };

    /// <summary>Help for a command or topic; null when there is none.</summary>
    public static string? For(string topic)
    {
        var key = topic switch
        {
            "status" or "split" or "mark" or "operator" => "control",
            "reload" => "reload",
            _ => topic,
        };
        if (key == "control")
        {
            return """
                recorder status [--json|--prometheus] | split | mark TEXT | operator NAME | reload     [--socket PATH | --config F]

                Requests to the running daemon over its control socket (the fleet file's control_socket;
                default /run/recorder/control.sock under systemd, also used, with a warning naming the
                file, when the configuration does not load). The socket is mode 0660: use root or a
                member of the `recorder` group.
                  status     state, open file, messages, per-topic rates, queue, free disk (--json: raw,
                             with the settings in force; --prometheus: Prometheus text format, as
                             metrics.textfile writes it)
                  split      finish the open file and start the next
                  mark TEXT  an event on /recorder/events and a recorder.mark metadata record
                  operator N sets operator in recorder.device (a new record in the open file)
                  reload     reload the configuration, wait until it is in force and print the outcome;
                             exit 1 when it is rejected (`recorder help reload`)
                Protocol: /usr/share/doc/recorder/control.md.
                """ + "\n";
        }
        return Topics.TryGetValue(key, out var text) ? text + "\n" : null;
    }
}
