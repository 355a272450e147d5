import FascoCore
import Logging
import FoundationEssentials
import OCISpec
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

/// The `software` realm backend: each System Realm is a `fasco-realm` supervisor holding the
/// pod's namespaces, cgroup, stdio and exits; each Container Realm an OCI container (crun or
/// runc) in those namespaces, created through the supervisor so that it outlives the daemon.
public struct SoftwareBackend: RealmBackend {
    public struct Configuration: Sendable {
        /// Per-realm state: `<directory>/<realm ID>/` holds the supervisor's socket, exits and the pod's files.
        public var directory: String
        /// The fasco-realm executable.
        public var supervisorBinary: String
        public var runtime: OCIRuntime
        public var cgroups: HostCgroups
        /// Where realms' cgroups go when the pod names no parent (cgroupfs form).
        public var cgroupRoot: String
        /// The pod network; nil when no CNI is configured (pods then get only a loopback).
        public var network: CNINetwork?

        /// Where clean-ups that fail are reported.
        public var logger: Logger

        public init(directory: String, supervisorBinary: String, runtime: OCIRuntime, cgroups: HostCgroups,
                    cgroupRoot: String = "/fasco", network: CNINetwork?, logger: Logger = Logger(label: "fasco.backend")) {
            self.logger = logger
            self.directory = directory
            self.supervisorBinary = supervisorBinary
            self.runtime = runtime
            self.cgroups = cgroups
            self.cgroupRoot = cgroupRoot
            self.network = network
        }
    }

    public let configuration: Configuration
    var runtime: OCIRuntime { configuration.runtime }
    /// Stopped pods' network namespaces, let go in batches.
    let namespaceReaper = NamespaceReaper()
    /// Learns of supervisors' deaths (pidfds polled by one thread) and reaps its own.
    let supervisorWatcher = SupervisorWatcher()

    public init(configuration: Configuration) throws(FascoError) {
        self.configuration = configuration
        try FileSystem.makeDirectories(configuration.directory, mode: 0o711)
    }

    /// The realm's state directory: named by the first 24 hex digits of its ID (96 random
    /// bits), which keeps `control.sock` within the 107 bytes a unix socket path may have.
    func directory(of id: RealmID) -> String { "\(configuration.directory)/\(id.value.prefix(24))" }
    func runtimeRecord(of id: RealmID) -> String { "\(directory(of: id))/runtime.json" }
    func client(of id: RealmID) -> SupervisorClient { SupervisorClient(directory: directory(of: id)) }

    /// The runtime record saved when the realm started; nil when there is none, or it cannot be
    /// read: these callers only ask what runs, and a realm without a readable record runs
    /// nothing they could reach. Teardown reads it with `readRuntime` and reports a damaged one.
    func loadRuntime(_ id: RealmID) -> RunningSystemRealm? {
        try? readRuntime(id)
    }

    /// The runtime record saved when the realm started, nil when there is none; throws when it
    /// cannot be read or decoded.
    func readRuntime(_ id: RealmID) throws(FascoError) -> RunningSystemRealm? {
        let path = runtimeRecord(of: id)
        guard let bytes = try FileSystem.read(path, limit: 1 << 20) else { return nil }
        do {
            return try JSONDecoder().decode(RunningSystemRealm.self, from: Data(bytes))
        } catch {
            throw .internal("\(path) is not a realm runtime record", cause: error)
        }
    }

    func saveRuntime(_ runtime: RunningSystemRealm, for id: RealmID) throws(FascoError) {
        let data: Data
        do { data = try JSONEncoder().encode(runtime) } catch { throw .internal("cannot encode the realm record", cause: error) }
        try FileSystem.writeAtomically(Array(data), to: runtimeRecord(of: id), mode: 0o600)
    }

    public func runningSystemRealm(_ id: RealmID) async -> RunningSystemRealm? {
        loadRuntime(id)
    }

    /// Its supervisor runs and its start finished (a start cut short by a daemon crash left
    /// a realm without, say, its network: not ready, to be removed and made again).
    public func isRunning(_ realm: SystemRealm) async -> Bool {
        guard loadRuntime(realm.id)?.complete ?? true else { return false }
        return SupervisorProcess.isRunning(directory: directory(of: realm.id))
    }

    /// Returns once the realm's supervisor has ended, however it ends: killed, crashed, or shut
    /// down by a stop. Nil when it was stopped before, or the task is cancelled.
    public func waitSystemRealm(_ realm: SystemRealm) async -> SystemRealmEnd? {
        let directory = directory(of: realm.id)
        if let end = supervisorWatcher.end(of: directory) { return end }
        guard let runtime = loadRuntime(realm.id), runtime.supervisorPID > 0 else { return nil }
        return await supervisorWatcher.wait(directory: directory, pid: runtime.supervisorPID, cgroups: configuration.cgroups)
    }
}
