import FascoCore
import OCISpec

/// How realms are run: the `software` backend (Linux isolation) or, on Arm CCA hardware,
/// real realms. RealmManager calls it under each realm's lock; every operation that tears
/// something down is idempotent.
public protocol RealmBackend: Sendable {
    /// Brings a System Realm up: its supervisor, namespaces, cgroup, files and network.
    /// On failure, whatever was made is removed again before the error is thrown.
    func startSystemRealm(_ realm: SystemRealm, request: SystemRealmRequest) async throws(FascoError) -> RunningSystemRealm
    /// Kills every container process, takes the network down and stops the supervisor.
    func stopSystemRealm(_ realm: SystemRealm) async throws(FascoError)
    /// Removes everything the realm left behind (cgroup, files, mounts, records).
    func removeSystemRealm(_ realm: SystemRealm) async throws(FascoError)
    /// What the backend knows of a System Realm; nil when it knows nothing (removed, or lost in a reboot).
    func runningSystemRealm(_ id: RealmID) async -> RunningSystemRealm?
    /// Whether the realm's supervisor still runs.
    func isRunning(_ realm: SystemRealm) async -> Bool
    /// Returns once the realm's supervisor (whatever holds it up) has ended, with how, however it
    /// ended (a stop too); at once when it has already. Nil when the backend cannot tell, the
    /// realm was stopped before, or the waiting task is cancelled.
    func waitSystemRealm(_ realm: SystemRealm) async -> SystemRealmEnd?

    /// Prepares a Container Realm from an OCI runtime spec whose bundle directory is `bundle`
    /// (`bundle/config.json` is written by the backend). Its process is made when it starts,
    /// as containerd makes a container's task at start.
    func createContainer(_ container: ContainerRealm, spec: RuntimeSpec, bundle: String) async throws(FascoError)
    /// The runtime spec a created container's process will be made from.
    func runtimeSpec(of container: ContainerRealm, bundle: String) async throws(FascoError) -> RuntimeSpec
    /// Replaces it before the process is made (unsealed secrets); the measurement keeps the original.
    func replaceRuntimeSpec(of container: ContainerRealm, bundle: String, with spec: RuntimeSpec) async throws(FascoError)
    /// Makes a created container's process from its bundle and starts it; returns its pid.
    func startContainer(_ container: ContainerRealm, bundle: String) async throws(FascoError) -> Int32
    /// Sends `signal` to the container's process.
    func signalContainer(_ container: ContainerRealm, signal: Int32) async throws(FascoError)
    /// Returns once the container has exited, with how it ended.
    func waitContainer(_ container: ContainerRealm) async throws(FascoError) -> ContainerExit
    /// What the backend sees of the container now.
    func containerProcess(_ container: ContainerRealm) async -> ContainerProcess
    /// The pid of the container's process while it exists (cheaper than `containerProcess`).
    func containerPID(_ container: ContainerRealm) async -> Int32?
    /// Which of `containers` (running, of one System Realm) the host process `pid` belongs to
    /// (its main process, an exec'd command or a descendant), as the kernel says; nil for none.
    func container(ofProcess pid: Int32, among containers: [ContainerRealm]) async -> RealmID?
    /// Frees what the runtime holds of a container whose process exited (its cgroup, its
    /// runtime state), off the RPC path; the container's record and exit stay. Best effort.
    func releaseExited(_ container: ContainerRealm) async
    /// Deletes the container (killing it when it still runs) and its runtime records.
    func removeContainer(_ container: ContainerRealm) async throws(FascoError)
    /// Runs `command` in the running container (as its process runs: user, groups, env, cwd,
    /// capabilities, from `bundle/config.json`) and collects its output.
    func exec(_ container: ContainerRealm, bundle: String, command: [String], timeout: Duration?, outputLimit: Int) async throws(FascoError) -> ExecResult
    /// Starts `command` in the running container as its process runs (like `exec`), with
    /// its stdio (pipes or a terminal) handed to the caller.
    func startExec(_ container: ContainerRealm, bundle: String, command: [String], stdio: ExecStdio) async throws(FascoError) -> InteractiveProcess
    /// The running container's own stdio: its stdin (when it has one) and copies of its
    /// output from now on. `wait` returns at once; the output ends when the container's does.
    func attach(_ container: ContainerRealm) async throws(FascoError) -> InteractiveProcess
    /// A TCP connection to `port` on the loopback of the realm's network namespace (the
    /// host's when the realm uses the host network); the descriptor belongs to the caller.
    func connect(_ realm: SystemRealm, port: UInt16) async throws(FascoError) -> Int32
    /// Changes a running or created container's resource limits.
    func updateResources(_ container: ContainerRealm, bundle: String, resources: RuntimeSpec.Linux.Resources) async throws(FascoError)
    /// Reopens the container's log file (after rotation).
    func reopenLog(_ container: ContainerRealm) async throws(FascoError)
    /// Resource usage of a container, or of a whole System Realm.
    func usage(of container: ContainerRealm) async throws(FascoError) -> RealmUsage
    func usage(of realm: SystemRealm) async throws(FascoError) -> RealmUsage
}

/// What a System Realm is started with; the layer above renders CRI's pod config into it.
public struct SystemRealmRequest: Sendable, Equatable {
    public enum NamespaceMode: String, Sendable, Equatable, Codable {
        /// A namespace of the realm's own, shared by its containers.
        case realm
        /// The host's.
        case host
    }

    public var hostname: String
    public var network: NamespaceMode
    public var ipc: NamespaceMode
    /// Whether the containers share one PID namespace held by the realm.
    public var sharedPID: Bool
    /// The cgroup its containers live under (cgroupfs form, "/a/b"); "" picks a default.
    public var cgroupParent: String
    /// Files made for its containers (name -> content): "hosts", "resolv.conf", "hostname".
    public var files: [String: String]
    /// The size of the realm's /dev/shm, in bytes.
    public var shmBytes: UInt64
    /// Who the realm is, for network plugins: pod name, namespace, UID.
    public var owner: Owner
    public var portMappings: [PortMapping]
    /// A user namespace of the realm's own with these ID mappings, owning its network, IPC,
    /// UTS (and shared PID) namespaces, which its containers join; nil: the host's.
    public var userNamespace: UserNamespace?
    /// The pod's behaviour-defining settings beyond the fields above (sysctls, security
    /// context), by name, as the layer above renders them: measured into the System Realm.
    public var measuredSettings: [String: String]

    /// One line of a uid_map or gid_map: `size` IDs from `containerID` inside are those from `hostID` outside.
    public struct IDMapping: Sendable, Equatable, Codable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32

        public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
            self.containerID = containerID
            self.hostID = hostID
            self.size = size
        }
    }

    public struct UserNamespace: Sendable, Equatable, Codable {
        public var uids: [IDMapping]
        public var gids: [IDMapping]

        public init(uids: [IDMapping], gids: [IDMapping]) {
            self.uids = uids
            self.gids = gids
        }
    }

    /// Who the realm is for: the pod's name, namespace and UID.
    public struct Owner: Sendable, Equatable, Codable {
        public var name: String
        public var namespace: String
        public var uid: String

        public init(name: String, namespace: String, uid: String) {
            self.name = name
            self.namespace = namespace
            self.uid = uid
        }
    }

    public struct PortMapping: Sendable, Equatable, Codable {
        public var hostPort: Int32
        public var containerPort: Int32
        /// "tcp", "udp" or "sctp".
        public var proto: String
        public var hostIP: String

        public init(hostPort: Int32, containerPort: Int32, proto: String, hostIP: String) {
            self.hostPort = hostPort
            self.containerPort = containerPort
            self.proto = proto
            self.hostIP = hostIP
        }
    }

    public init(hostname: String, network: NamespaceMode = .realm, ipc: NamespaceMode = .realm, sharedPID: Bool = false,
                cgroupParent: String = "", files: [String: String] = [:], shmBytes: UInt64 = 64 << 20,
                owner: Owner, portMappings: [PortMapping] = [], userNamespace: UserNamespace? = nil,
                measuredSettings: [String: String] = [:]) {
        self.hostname = hostname
        self.network = network
        self.ipc = ipc
        self.sharedPID = sharedPID
        self.cgroupParent = cgroupParent
        self.files = files
        self.shmBytes = shmBytes
        self.owner = owner
        self.portMappings = portMappings
        self.userNamespace = userNamespace
        self.measuredSettings = measuredSettings
    }
}

/// What a running System Realm offers its containers.
public struct RunningSystemRealm: Sendable, Equatable, Codable {
    /// The supervisor's pid (0 once stopped).
    public var supervisorPID: Int32
    /// The realm's state directory.
    public var directory: String
    /// Namespace files containers join; nil means the host's.
    public var networkNamespace: String?
    public var ipcNamespace: String?
    public var utsNamespace: String?
    /// The shared PID namespace, when the realm holds one.
    public var pidNamespace: String?
    /// The realm's user namespace (owner of the three above), nil when it uses the host's.
    public var userNamespace: String?
    /// The files made from `SystemRealmRequest.files`, by name, and the realm's /dev/shm.
    public var files: [String: String]
    public var shmPath: String
    /// The cgroup its containers live under (cgroupfs form: the path in every hierarchy).
    public var cgroupParent: String
    /// With the systemd cgroup driver: the slice unit whose cgroup `cgroupParent` is
    /// ("kubepods-besteffort-pod1.slice"); containers are scopes in it. Nil with cgroupfs.
    public var systemdSlice: String?
    /// Addresses the network gave it, primary first (no prefix length).
    public var addresses: [String]
    /// Whether every step of starting the realm finished; a daemon that died part way left it
    /// false, and such a realm is not ready after a restart. (Absent in older records: complete.)
    public var complete: Bool?

    public init(supervisorPID: Int32, directory: String, networkNamespace: String?, ipcNamespace: String?, utsNamespace: String?,
                pidNamespace: String?, files: [String: String], shmPath: String, cgroupParent: String, addresses: [String],
                userNamespace: String? = nil) {
        self.supervisorPID = supervisorPID
        self.directory = directory
        self.networkNamespace = networkNamespace
        self.ipcNamespace = ipcNamespace
        self.utsNamespace = utsNamespace
        self.pidNamespace = pidNamespace
        self.userNamespace = userNamespace
        self.files = files
        self.shmPath = shmPath
        self.cgroupParent = cgroupParent
        self.addresses = addresses
    }
}

extension RealmBackend {
    /// A backend that cannot watch its realms never reports an end.
    public func waitSystemRealm(_ realm: SystemRealm) async -> SystemRealmEnd? { nil }
}

/// How a System Realm's supervisor ended.
public struct SystemRealmEnd: Sendable, Equatable {
    /// Its exit status when it exited, nil when killed or not known (not the daemon's child).
    public var exitStatus: Int32?
    /// The signal that killed it, when known.
    public var signal: Int32?
    /// Whether the kernel's OOM killer killed it.
    public var oomKilled: Bool

    public init(exitStatus: Int32? = nil, signal: Int32? = nil, oomKilled: Bool = false) {
        self.exitStatus = exitStatus
        self.signal = signal
        self.oomKilled = oomKilled
    }

    /// "the System Realm supervisor was killed by signal 9" (by the OOM killer, exited with
    /// status N, ended: what is known of it).
    public var description: String {
        let subject = "the System Realm supervisor"
        if oomKilled { return "\(subject) was killed by the OOM killer" }
        if let signal { return "\(subject) was killed by signal \(signal)" }
        if let exitStatus { return "\(subject) exited with status \(exitStatus)" }
        return "\(subject) ended"
    }
}

/// How a container's process ended.
public struct ContainerExit: Sendable, Equatable {
    /// The exit status; 128 + N when killed by signal N.
    public var code: Int32
    /// Unix nanoseconds.
    public var finishedAt: Int64
    public var oomKilled: Bool

    public init(code: Int32, finishedAt: Int64, oomKilled: Bool) {
        self.code = code
        self.finishedAt = finishedAt
        self.oomKilled = oomKilled
    }
}

/// A container's process as the backend sees it.
public enum ContainerProcess: Sendable, Equatable {
    /// Created, its process waiting to be started.
    case created(pid: Int32)
    case running(pid: Int32)
    case exited(ContainerExit)
    /// The backend has no trace of it.
    case missing
}

/// The result of running a command in a container.
public struct ExecResult: Sendable, Equatable {
    public var exitCode: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// Whether the command was killed because it outlived its timeout.
    public var timedOut: Bool

    public init(exitCode: Int32, stdout: [UInt8], stderr: [UInt8], timedOut: Bool) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
    }
}

/// Resource usage read from a realm's cgroup; nil where the host does not account it.
public struct RealmUsage: Sendable, Equatable {
    /// Unix nanoseconds.
    public var timestamp: Int64
    public var cpuUsageNanos: UInt64?
    public var memoryUsageBytes: UInt64?
    public var workingSetBytes: UInt64?
    public var rssBytes: UInt64?
    public var availableBytes: UInt64?
    public var pageFaults: UInt64?
    public var majorPageFaults: UInt64?
    public var processes: UInt64?

    public init(timestamp: Int64, cpuUsageNanos: UInt64? = nil, memoryUsageBytes: UInt64? = nil, workingSetBytes: UInt64? = nil,
                rssBytes: UInt64? = nil, availableBytes: UInt64? = nil, pageFaults: UInt64? = nil, majorPageFaults: UInt64? = nil,
                processes: UInt64? = nil) {
        self.timestamp = timestamp
        self.cpuUsageNanos = cpuUsageNanos
        self.memoryUsageBytes = memoryUsageBytes
        self.workingSetBytes = workingSetBytes
        self.rssBytes = rssBytes
        self.availableBytes = availableBytes
        self.pageFaults = pageFaults
        self.majorPageFaults = majorPageFaults
        self.processes = processes
    }
}
