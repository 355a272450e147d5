import Logging

extension Logger {
    /// Reports a clean-up step (a rollback, a removal, a kill, a reap) whose failure is not
    /// thrown, because it would hide the error being reported or because the caller carries on:
    /// once, with the realm it was for, the step, what it leaves and the error.
    ///
    /// A warning when what the step would have removed stays behind; with `retried`, debug: a
    /// later step does it again and reports its own failure.
    ///
    /// - Parameters:
    ///   - pod: the System Realm's ID (`podSandboxID`); nil when not known here (the logger
    ///     may carry it already).
    ///   - container: the Container Realm's ID (`containerID`), nil for a pod's own step.
    ///   - left: what stays behind (a path, a process), when it can be named.
    func cleanUpFailed(
        _ step: String, error: any Error, pod: String? = nil, container: String? = nil, left: String? = nil, retried: Bool = false
    ) {
        var metadata: Logger.Metadata = ["step": "\(step)", "error": "\(error)"]
        if let realm = container ?? pod { metadata["realm"] = "\(realm)" }
        if let pod { metadata["podSandboxID"] = "\(pod)" }
        if let container { metadata["containerID"] = "\(container)" }
        if let left { metadata["left"] = "\(left)" }
        if retried {
            debug("clean-up failed; a later step retries it", metadata: metadata)
        } else {
            warning("clean-up failed; what it would have removed is left", metadata: metadata)
        }
    }

    /// This logger with the metadata of one realm: `realm` and `podSandboxID`, and
    /// `containerID` for a Container Realm.
    func forRealm(pod: String, container: String? = nil) -> Logger {
        var logger = self
        logger[metadataKey: "realm"] = "\(container ?? pod)"
        logger[metadataKey: "podSandboxID"] = "\(pod)"
        if let container { logger[metadataKey: "containerID"] = "\(container)" }
        return logger
    }
}
