import Metrics

extension OCIRuntime {
    /// How long each run of the OCI runtime takes, by runtime (crun, runc) and operation (create,
    /// start, state, kill, delete, update; a supervised create is timed by its caller): the
    /// runtime's own time, which Fasco does not control. Exec is left out: its time is the
    /// command's.
    public static let durationMetric = "fasco_oci_runtime_duration_seconds"

    /// Records one `operation` that began at `start`.
    func recordDuration(_ operation: String, since start: ContinuousClock.Instant) {
        Metrics.Timer(label: Self.durationMetric, dimensions: [("runtime", kind.rawValue), ("operation", operation)])
            .record(duration: ContinuousClock.now - start)
    }
}
