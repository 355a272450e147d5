import FascoCore

/// What crun or runc refused because of the user's request or image, not Fasco's fault: the
/// one place that recognises those refusals in either runtime's words, and says what each is
/// answered with. Anything not recognised here stays as the caller classifies it (often
/// INTERNAL: then it is Fasco's, or the host's, problem).
///
/// Answers, following a shell for exec (as Docker does: 127 and 126 with the runtime's message
/// on stderr) and a specific gRPC code where containerd and CRI-O pass the runtime's error on
/// as UNKNOWN:
///
/// | refusal | ExecSync, Exec | StartContainer, CreateContainer's spec, UpdateContainerResources |
/// |---|---|---|
/// | the executable does not exist (or no PATH entry has it) | exit status 127 | FAILED_PRECONDITION |
/// | it exists but cannot be executed (permissions, a directory, not a binary) | exit status 126 | FAILED_PRECONDITION |
/// | `unified` cgroup settings on a cgroup v1 host | (n/a) | FAILED_PRECONDITION |
///
/// FAILED_PRECONDITION rather than INVALID_ARGUMENT: the request is well formed; what the image
/// holds (or the host's cgroup version) keeps it from running.
public enum RuntimeRefusal: Sendable, Equatable {
    case executableNotFound
    case notExecutable
    case unifiedOnCgroupV1

    /// The refusal `text` (what the runtime logged or printed) describes, if any.
    ///
    /// runc 1.1: `exec failed: unable to start container process: exec: "X": executable file not
    /// found in $PATH`, `... exec: "/x": stat /x: no such file or directory`, `... exec: "/x":
    /// permission denied` (prefixed `runc create failed: ` at create). crun 1.8: ``executable
    /// file `X` not found in $PATH: No such file or directory`` (also for absolute paths),
    /// `open executable: Permission denied` (`Operation not permitted` for a directory).
    /// Both: `invalid configuration: cannot use unified on cgroup v1`.
    public static func recognise(_ text: String) -> RuntimeRefusal? {
        let text = text.lowercased()
        if text.contains("cannot use unified on cgroup v1") { return .unifiedOnCgroupV1 }
        let runcExec = text.contains("unable to start container process: exec: \"")
        if text.contains("executable file not found") || (text.contains("executable file `") && text.contains("` not found"))
            || (runcExec && text.contains("no such file or directory")) {
            return .executableNotFound
        }
        if text.contains("open executable: permission denied") || text.contains("open executable: operation not permitted")
            || (runcExec && text.contains("permission denied")) || text.contains("exec format error") {
            return .notExecutable
        }
        return nil
    }

    /// The exit status a shell gives for a command that could not start this way, for exec
    /// (nil: not an exec failure).
    public var shellStatus: Int32? {
        switch self {
        case .executableNotFound: 127
        case .notExecutable: 126
        case .unifiedOnCgroupV1: nil
        }
    }

    public var code: FascoError.Code { .failedPrecondition }

    /// The error for `what` (e.g. `crun create 0123abcd`), with the runtime's own words.
    public func error(_ what: String, runtime: String, said: String) -> FascoError {
        let explanation = switch self {
        case .executableNotFound: "the executable was not found in the container"
        case .notExecutable: "the file cannot be executed"
        case .unifiedOnCgroupV1: "unified (cgroup v2) resource settings cannot apply: this host's containers are on cgroup v1"
        }
        return FascoError(code, "\(what): \(explanation) (\(runtime): \(said))")
    }
}
