import Logging

extension Logger {
    /// Reports a clean-up step (removing a partial snapshot or download, a scratch directory,
    /// a retired root filesystem, detaching idmapped clones, a collection) whose failure is not
    /// thrown, because it would hide the error being reported or because nothing waits for it:
    /// once, with the step, what it leaves and the error.
    ///
    /// A warning when what the step would have removed stays behind; with `retried`, debug: a
    /// later step (the removal of the directory it lies in) does it again and reports its own
    /// failure.
    ///
    /// The image store knows no realms: a container's root filesystem is named by its lease
    /// `owner` and its directory, which the caller chose.
    ///
    /// - Parameters:
    ///   - left: what stays behind (a path, a mount), when it can be named.
    ///   - digest: the blob or snapshot (chain ID) it concerns, if one.
    ///   - owner: the lease owner (a container) whose root filesystem it concerns, if one.
    func cleanUpFailed(
        _ step: String, error: any Error, left: String? = nil, digest: Digest? = nil, owner: String? = nil, retried: Bool = false
    ) {
        var metadata: Logger.Metadata = ["step": "\(step)", "error": "\(error)"]
        if let left { metadata["left"] = "\(left)" }
        if let digest { metadata["digest"] = "\(digest)" }
        if let owner { metadata["owner"] = "\(owner)" }
        if retried {
            debug("clean-up failed; a later step retries it", metadata: metadata)
        } else {
            warning("clean-up failed; what it would have removed is left", metadata: metadata)
        }
    }
}
