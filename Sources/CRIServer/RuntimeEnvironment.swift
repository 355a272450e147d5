import CRIAPI
import FascoCore

/// What the CRI handlers need to know about the runtime they front, supplied by the composition root.
public struct RuntimeEnvironment: Sendable {
    /// A readiness condition: `nil` reason when ready, otherwise why not.
    public struct Readiness: Sendable, Equatable {
        public var ready: Bool
        public var reason: String
        public var message: String

        public init(ready: Bool, reason: String = "", message: String = "") {
            self.ready = ready
            self.reason = reason
            self.message = message
        }
    }

    public enum CgroupDriver: String, Sendable {
        case systemd, cgroupfs
    }

    /// Fasco's own version, from the build.
    public var runtimeVersion: String
    /// The RuntimeClass handler names served (the default "" is always served too).
    public var runtimeHandlers: [String]
    public var cgroupDriver: CgroupDriver
    public var runtimeReadiness: @Sendable () -> Readiness
    public var networkReadiness: @Sendable () -> Readiness
    /// Extra `Status` info for `verbose` requests: key -> JSON text.
    public var verboseInfo: @Sendable () -> [String: String]
    /// The real usage of the filesystem holding images (ImageFsInfo).
    public var imageFilesystemUsage: @Sendable () async throws -> FilesystemUsageReport

    public init(
        runtimeVersion: String, runtimeHandlers: [String], cgroupDriver: CgroupDriver,
        runtimeReadiness: @escaping @Sendable () -> Readiness,
        networkReadiness: @escaping @Sendable () -> Readiness,
        verboseInfo: @escaping @Sendable () -> [String: String],
        imageFilesystemUsage: @escaping @Sendable () async throws -> FilesystemUsageReport
    ) {
        self.runtimeVersion = runtimeVersion
        self.runtimeHandlers = runtimeHandlers
        self.cgroupDriver = cgroupDriver
        self.runtimeReadiness = runtimeReadiness
        self.networkReadiness = networkReadiness
        self.verboseInfo = verboseInfo
        self.imageFilesystemUsage = imageFilesystemUsage
    }
}
