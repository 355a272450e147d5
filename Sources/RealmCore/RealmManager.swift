import FascoCore
import Logging
import OCISpec
import RealmAttestation
import Synchronization

/// Owns the realms: their records (RealmRegistry), the backend that runs them, their root
/// filesystems and the events they emit. Each realm's multi-step changes are serialized by a
/// lock of its own; every change is on disk before a call returns.
public final class RealmManager: Sendable {
    let registry: RealmRegistry
    public let events: RealmEventHub
    let backend: any RealmBackend
    let storage: any ContainerStorage
    let locks = RealmLocks()
    /// One task per started container, waiting for its exit.
    let watchers = Mutex<[RealmID: Task<Void, Never>]>([:])
    /// How long a container may take to die after SIGKILL before the stop is reported failed.
    let killGrace: Duration
    /// Where clean-ups that fail are reported (`cleanUp`).
    let logger: Logger
    /// Measures and attests realms; nil leaves them unmeasured.
    public let monitor: (any RealmMonitor)?
    /// Fasco's root and state directories, left out of measurements (`RealmInstance`).
    let directories: (root: String, state: String)
    /// What runs beside each ready System Realm (the guest API), told of starts and stops.
    let services = Mutex<[any SystemRealmService]>([])
    /// The key broker client (set once at start when the node can reach one; see `useKeyRelease`).
    let keyReleaseService = Mutex<(any KeyRelease)?>(nil)

    public init(registry: RealmRegistry, backend: any RealmBackend, storage: any ContainerStorage,
                events: RealmEventHub = RealmEventHub(), killGrace: Duration = .seconds(30),
                monitor: (any RealmMonitor)? = nil, root: String = "", state: String = "",
                logger: Logger = Logger(label: "fasco.realms")) {
        self.logger = logger
        self.registry = registry
        self.backend = backend
        self.storage = storage
        self.events = events
        self.killGrace = killGrace
        self.monitor = monitor
        self.directories = (root, state)
    }

    static func now() -> Int64 { UnixTime.nanoseconds() }

    func publish(_ kind: RealmEvent.Kind, realm: RealmID, in systemRealm: RealmID) {
        events.publish(RealmEvent(kind: kind, realm: realm, systemRealm: systemRealm, time: Self.now()))
    }

    // MARK: System Realms

    /// Records and starts a System Realm; its name must be free. On failure nothing is kept.
    public func runSystemRealm(_ realm: SystemRealm, request: SystemRealmRequest) async throws(FascoError) -> SystemRealm {
        var realm = realm
        _ = try InitDataImagePolicy.uri(annotations: realm.annotations)
        _ = try InitDataCredentials.from(annotations: realm.annotations)
        if let monitor {
            let options = try RealmOptions(annotations: realm.annotations)
            realm.attestation = try monitor.measureSystemRealm(request.measuredDocument(runtimeHandler: realm.runtimeHandler), options: options)
        }
        try await registry.add(realm)
        return try await locks.withLock(realm.id) { () throws(FascoError) -> SystemRealm in
            let runtime: RunningSystemRealm
            do throws(FascoError) {
                runtime = try await backend.startSystemRealm(realm, request: request)
            } catch {
                await cleanUp("remove the realm after a failed start", realm: realm.id, pod: realm.id) { () throws(FascoError) in
                    try await backend.removeSystemRealm(realm)
                }
                await cleanUp("drop the record of a realm that did not start", realm: realm.id, pod: realm.id) { () throws(FascoError) in
                    try await registry.transition(realm.id, to: .removed)
                }
                throw error
            }
            for service in services.withLock({ $0 }) { await service.systemRealmStarted(realm, running: runtime) }
            publish(.created, realm: realm.id, in: realm.id)
            publish(.started, realm: realm.id, in: realm.id)
            watchSystemRealm(realm)
            return realm
        }
    }

    public func systemRealm(_ id: String) async throws(FascoError) -> SystemRealm? {
        try await registry.systemRealm(id)
    }

    /// What the backend made for a running System Realm (namespaces, files, cgroup); nil when it is not running.
    public func running(_ realm: SystemRealm) async -> RunningSystemRealm? {
        await backend.runningSystemRealm(realm.id)
    }

    public func isRunning(_ realm: SystemRealm) async -> Bool {
        await backend.isRunning(realm)
    }

    /// Kills the realm's containers, takes its network down and stops it. Unknown IDs succeed.
    public func stopSystemRealm(_ id: String) async throws(FascoError) {
        guard let realm = try await registry.systemRealm(id) else { return }
        try await stop(realm)
    }

    private func stop(_ realm: SystemRealm) async throws(FascoError) {
        for container in await registry.containers(of: realm.id) where container.state.isLive || container.state == .unknown {
            try await stopContainer(container.id.value, timeout: .zero, signal: 9)
        }
        try await locks.withLock(realm.id) { () throws(FascoError) in
            for service in services.withLock({ $0 }) { await service.systemRealmStopping(realm.id) }
            try await backend.stopSystemRealm(realm)
            let before = try await registry.systemRealm(realm.id.value)
            try await registry.transition(realm.id, to: .notReady)
            if before?.state == .ready { publish(.stopped, realm: realm.id, in: realm.id) }
        }
    }

    /// Stops the realm when needed, removes its containers and then the realm. Unknown IDs succeed.
    public func removeSystemRealm(_ id: String) async throws(FascoError) {
        guard let realm = try await registry.systemRealm(id) else { return }
        try await stop(realm)
        for container in await registry.containers(of: realm.id) {
            try await removeContainer(container.id.value)
        }
        try await locks.withLock(realm.id) { () throws(FascoError) in
            guard try await registry.systemRealm(realm.id.value) != nil else { return }
            try await backend.removeSystemRealm(realm)
            try await registry.transition(realm.id, to: .removed)
            watchers.withLock { $0.removeValue(forKey: realm.id)?.cancel() }
            publish(.deleted, realm: realm.id, in: realm.id)
        }
    }

    /// Watches a ready System Realm: should its supervisor end without a stop (killed, by the
    /// OOM killer too, or crashed), the realm ends at once (`systemRealmEnded`).
    func watchSystemRealm(_ realm: SystemRealm) {
        let task = Task { [weak self] in
            guard let self, let end = await backend.waitSystemRealm(realm), !Task.isCancelled else { return }
            await systemRealmEnded(realm.id, reason: end.description)
        }
        watchers.withLock { watchers in
            watchers[realm.id]?.cancel()
            watchers[realm.id] = task
        }
    }

    /// A ready System Realm whose supervisor is gone: its live containers are killed (what
    /// outlived the supervisor) and exited with `reason`, then the realm becomes not ready
    /// (kubelet then stops, removes and makes the pod again); then the events. Does nothing
    /// when the realm was stopped (a stop holds the realm's lock until it is not ready) or its
    /// supervisor still runs.
    func systemRealmEnded(_ id: RealmID, reason: String) async {
        var stopped: [RealmID] = []
        let ended = (try? await locks.withLock(id) { () throws(FascoError) -> Bool in
            guard let current = try await registry.systemRealm(id.value), current.state == .ready,
                  !(await backend.isRunning(current)) else { return false }
            for container in await registry.containers(of: id) where container.state.isLive || container.state == .unknown {
                try? await locks.withLock(container.id) { () throws(FascoError) in
                    guard let current = try await registry.containerRealm(container.id.value),
                          current.state.isLive || current.state == .unknown else { return }
                    try? await backend.signalContainer(current, signal: 9)
                    var exit = ContainerExit(code: 137, finishedAt: Self.now(), oomKilled: false)
                    if case .exited(let persisted) = await backend.containerProcess(current) { exit = persisted }
                    let recorded = try? await registry.update(current.id) { realm in
                        realm.recordExit(code: exit.code, at: exit.finishedAt, oomKilled: exit.oomKilled)
                        realm.message = "pod sandbox \(id.short) ended: \(reason)"
                    }
                    if recorded != nil, exit.oomKilled { RealmMetrics.countOOMKill() }
                    stopped.append(current.id)
                    // What the exit watcher does after an exit it saw.
                    await backend.releaseExited(current)
                    await storage.unmount(current)
                }
            }
            try await registry.transition(id, to: .notReady)
            return true
        }) ?? false
        guard ended else { return }
        RealmMetrics.countSupervisorDeath()
        for container in stopped { publish(.stopped, realm: container, in: id) }
        publish(.stopped, realm: id, in: id)
    }

    public func usage(of realm: SystemRealm) async throws(FascoError) -> RealmUsage {
        try await backend.usage(of: realm)
    }

    // MARK: Container Realms

    /// Records a Container Realm in its ready System Realm, prepares its root filesystem, has
    /// `makeSpec` build its OCI spec and creates it. On failure nothing is kept.
    ///
    /// `admit`, when given, runs once the realm is measured and before anything of an encrypted
    /// image is decrypted: a check that may need the realm itself (a policy its key broker holds);
    /// its error stops the creation like any other.
    public func createContainer(
        _ container: ContainerRealm, image: MeasuredImage,
        makeSpec: @Sendable (ContainerBundle, RunningSystemRealm) async throws(FascoError) -> RuntimeSpec,
        admit: (@Sendable (ContainerRealm) async throws(FascoError) -> Void)? = nil
    ) async throws(FascoError) -> ContainerRealm {
        return try await locks.withLock(container.systemRealm) { () throws(FascoError) -> ContainerRealm in
            guard let pod = try await registry.systemRealm(container.systemRealm.value) else {
                throw .notFound("pod sandbox \(container.systemRealm) not found")
            }
            guard pod.state.canCreateContainer, let runtime = await backend.runningSystemRealm(pod.id) else {
                throw .failedPrecondition("pod sandbox \(pod.id) is not ready: containers are created only in ready pods")
            }
            try await registry.add(container)
            var bundle: ContainerBundle?
            do throws(FascoError) {
                let prepared = try await storage.prepare(container, pod: runtime)
                bundle = prepared
                let spec = try await makeSpec(prepared, runtime)
                if let monitor {
                    let record = try measure(container, of: pod, realmDirectory: runtime.directory, spec: spec, image: image, monitor: monitor)
                    try await registry.recordMeasurement(of: container.id, record)
                }
                if let admit { try await admit(container) }
                if prepared.locked {
                    // Encrypted layers: the realm, measured now, attests for their keys.
                    guard monitor != nil else {
                        throw .failedPrecondition("image \(container.image) has encrypted layers, and this node does not measure realms to release their keys to")
                    }
                    var resource: (@Sendable (String) async throws(FascoError) -> [UInt8])?
                    if let keyRelease, keyRelease.isConfigured(for: pod) {
                        resource = { [self] (uri: String) async throws(FascoError) -> [UInt8] in
                            try await releasedResource(uri, to: container)
                        }
                    }
                    try await storage.unlock(container, pod: runtime, spec: spec, resource: resource)
                }
                try await backend.createContainer(container, spec: spec, bundle: prepared.directory)
            } catch {
                if bundle != nil {
                    await cleanUp("remove the container after a failed create", realm: container.id, pod: container.systemRealm) { () throws(FascoError) in
                        try await backend.removeContainer(container)
                    }
                    await cleanUp("release the root filesystem after a failed create", realm: container.id, pod: container.systemRealm) { () throws(FascoError) in
                        try await storage.release(container)
                    }
                }
                await cleanUp("drop the record of a container that was not created", realm: container.id, pod: container.systemRealm) { () throws(FascoError) in
                    try await registry.update(container.id) { $0.state = .removed }
                }
                throw error
            }
            publish(.created, realm: container.id, in: container.systemRealm)
            return container
        }
    }

    /// The measurement of a new Container Realm of `pod` that runs as `spec` says.
    private func measure(_ container: ContainerRealm, of pod: SystemRealm, realmDirectory: String, spec: RuntimeSpec, image: MeasuredImage,
                         monitor: any RealmMonitor) throws(FascoError) -> RealmAttestationRecord {
        let options = pod.attestation.map {
            RealmOptions(algorithm: $0.measurement.algorithm, personalizationValue: $0.measurement.personalizationValue)
        } ?? RealmOptions()
        let instance = RealmInstance(root: directories.root, state: directories.state, realmDirectory: realmDirectory, podID: pod.id.value,
                                     podUID: pod.metadata.uid, containerID: container.id.value)
        return try monitor.measureContainerRealm(ContainerRealmDocument(spec: spec, image: image, instance: instance), options: options)
    }

    public func container(_ id: String) async throws(FascoError) -> ContainerRealm? {
        try await registry.containerRealm(id)
    }

    private func existingContainer(_ id: String) async throws(FascoError) -> ContainerRealm {
        guard let container = try await registry.containerRealm(id) else { throw .notFound("container \(id) not found") }
        return container
    }

    /// Starts a created container and begins watching for its exit.
    public func startContainer(_ id: String) async throws(FascoError) {
        let container = try await existingContainer(id)
        try await locks.withLock(container.id) { () throws(FascoError) in
            let current = try await existingContainer(container.id.value)
            guard current.state.canStart else {
                throw .failedPrecondition("container \(current.id) is \(current.state.rawValue); only created containers start")
            }
            guard let pod = try await registry.systemRealm(current.systemRealm.value), pod.state == .ready else {
                throw .failedPrecondition("the pod sandbox of container \(current.id) is not ready")
            }
            do throws(FascoError) {
                // Sealed secrets are unsealed for this realm now, before its process exists.
                try await unsealSecrets(current, of: pod, bundle: storage.bundleDirectory(of: current))
                _ = try await backend.startContainer(current, bundle: storage.bundleDirectory(of: current))
            } catch {
                // A container whose start failed does not run: it is exited, with why.
                let exit = ContainerExit(code: 128, finishedAt: Self.now(), oomKilled: false)
                _ = try? await registry.update(current.id) { realm in
                    realm.recordExit(code: exit.code, at: exit.finishedAt, oomKilled: false)
                    realm.message = error.message
                }
                throw error
            }
            try await registry.update(current.id) { realm in
                realm.state = .running
                realm.startedAt = Self.now()
            }
            publish(.started, realm: current.id, in: current.systemRealm)
            watch(current)
        }
    }

    /// Watches a started container: its exit is recorded the moment it happens.
    func watch(_ container: ContainerRealm) {
        let task = Task { [weak self] in
            guard let self else { return }
            let exit: ContainerExit
            do {
                exit = try await backend.waitContainer(container)
            } catch {
                if Task.isCancelled { return }
                // The supervisor went away: what it persisted says how the container ended.
                switch await backend.containerProcess(container) {
                case .exited(let persisted): exit = persisted
                case .running, .created: return
                case .missing:
                    // Gone with its pod's supervisor: the pod's end records this exit, with why
                    // (and kills what outlived the supervisor), whoever noticed first.
                    if let pod = try? await registry.systemRealm(container.systemRealm.value), !(await backend.isRunning(pod)) {
                        if pod.state == .ready {
                            let end = await backend.waitSystemRealm(pod)
                            await systemRealmEnded(pod.id, reason: (end ?? SystemRealmEnd()).description)
                        }
                        return
                    }
                    exit = ContainerExit(code: 137, finishedAt: Self.now(), oomKilled: false)
                }
            }
            await recordExit(container.id, exit)
            // As containerd deletes a task once it exited, and unmounts its root filesystem:
            // RemoveContainer then has less to do.
            try? await locks.withLock(container.id) { () throws(FascoError) in
                guard let current = try await registry.containerRealm(container.id.value), current.state == .exited else { return }
                await backend.releaseExited(current)
                await storage.unmount(current)
            }
        }
        watchers.withLock { watchers in
            watchers[container.id]?.cancel()
            watchers[container.id] = task
        }
    }

    /// Records an exit once; later reports of the same exit change nothing.
    func recordExit(_ id: RealmID, _ exit: ContainerExit, message: String = "") async {
        var changed = false
        var pod: RealmID?
        _ = try? await registry.update(id) { realm in
            guard realm.state == .running || realm.state == .created || realm.state == .unknown else { return }
            realm.recordExit(code: exit.code, at: exit.finishedAt, oomKilled: exit.oomKilled)
            if !message.isEmpty { realm.message = message }
            changed = true
            pod = realm.systemRealm
        }
        if changed, exit.oomKilled { RealmMetrics.countOOMKill() }
        if changed, let pod { publish(.stopped, realm: id, in: pod) }
    }

    /// Sends `signal`, waits up to `timeout` for the exit, then kills. Unknown IDs and
    /// containers that are not running succeed.
    public func stopContainer(_ id: String, timeout: Duration, signal: Int32) async throws(FascoError) {
        guard let container = try await registry.containerRealm(id) else { return }
        try await locks.withLock(container.id) { () throws(FascoError) in
            guard let current = try await registry.containerRealm(container.id.value), current.state.isLive || current.state == .unknown else { return }
            switch await backend.containerProcess(current) {
            case .exited(let exit):
                await recordExit(current.id, exit)
                return
            case .missing:
                // A created container has no process until it starts: nothing to stop.
                guard current.state != .created else { return }
                await recordExit(current.id, ContainerExit(code: 137, finishedAt: Self.now(), oomKilled: false),
                                 message: "the container's process was gone")
                return
            case .created, .running:
                break
            }
            if timeout > .zero && signal != 9 {
                try? await backend.signalContainer(current, signal: signal)
                if let exit = try await waitForExit(current, timeout: timeout) {
                    await recordExit(current.id, exit)
                    return
                }
            }
            try? await backend.signalContainer(current, signal: 9)
            guard let exit = try await waitForExit(current, timeout: killGrace) else {
                throw FascoError(.deadlineExceeded, "container \(current.id) did not exit within \(killGrace) of SIGKILL")
            }
            await recordExit(current.id, exit)
        }
    }

    /// The container's exit, or nil when it has not exited within `timeout`.
    private func waitForExit(_ container: ContainerRealm, timeout: Duration) async throws(FascoError) -> ContainerExit? {
        let backend = self.backend
        let outcome: Result<ContainerExit, FascoError>? = await withTaskGroup(of: Result<ContainerExit, FascoError>?.self) { group in
            group.addTask {
                do throws(FascoError) {
                    return .success(try await backend.waitContainer(container))
                } catch {
                    if case .exited(let exit) = await backend.containerProcess(container) { return .success(exit) }
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch outcome {
        case .success(let exit): return exit
        case .failure(let error): throw error
        case nil: return nil
        }
    }

    /// Removes a container (killing it first when it runs) with its root filesystem. Unknown IDs succeed.
    public func removeContainer(_ id: String) async throws(FascoError) {
        guard let container = try await registry.containerRealm(id) else { return }
        if container.state.isLive || container.state == .unknown {
            try await stopContainer(container.id.value, timeout: .zero, signal: 9)
        }
        try await locks.withLock(container.id) { () throws(FascoError) in
            guard let current = try await registry.containerRealm(container.id.value) else { return }
            watchers.withLock { $0.removeValue(forKey: current.id)?.cancel() }
            try await backend.removeContainer(current)
            try await storage.release(current)
            try await registry.update(current.id) { $0.state = .removed }
            keyRelease?.forget(realm: current.id)
            await cleanUp("remove the unsealed secrets", realm: current.id, pod: current.systemRealm) { () throws(FascoError) in
                try FileSystem.removeTree(unsealedDirectory(of: current))
            }
            publish(.deleted, realm: current.id, in: current.systemRealm)
        }
    }

    public func exec(_ id: String, command: [String], timeout: Duration?, outputLimit: Int) async throws(FascoError) -> ExecResult {
        let container = try await existingContainer(id)
        guard container.state == .running else {
            throw .failedPrecondition("container \(container.id) is \(container.state.rawValue); commands run only in running containers")
        }
        try await recordSession(container, SessionRecord(kind: .execSync, command: command, stdin: false, tty: false))
        return try await backend.exec(container, bundle: storage.bundleDirectory(of: container), command: command, timeout: timeout, outputLimit: outputLimit)
    }

    /// Starts a command in a running container with its stdio handed to the caller (CRI Exec's streams).
    public func startExec(_ id: String, command: [String], stdio: ExecStdio) async throws(FascoError) -> InteractiveProcess {
        let container = try await existingContainer(id)
        guard container.state == .running else {
            throw .failedPrecondition("container \(container.id) is \(container.state.rawValue); commands run only in running containers")
        }
        try await recordSession(container, SessionRecord(kind: .exec, command: command, stdin: stdio.stdin, tty: stdio.terminal))
        return try await backend.startExec(container, bundle: storage.bundleDirectory(of: container), command: command, stdio: stdio)
    }

    /// Attaches to a running container's stdio (CRI Attach's streams).
    public func attach(_ id: String, stdin: Bool, tty: Bool) async throws(FascoError) -> InteractiveProcess {
        let container = try await existingContainer(id)
        guard container.state == .running else {
            throw .failedPrecondition("container \(container.id) is \(container.state.rawValue); only running containers are attached to")
        }
        try await recordSession(container, SessionRecord(kind: .attach, command: [], stdin: stdin, tty: tty))
        return try await backend.attach(container)
    }

    /// A TCP connection to `port` inside a ready System Realm's network (CRI PortForward's streams).
    public func connect(toPort port: UInt16, inSystemRealm id: String) async throws(FascoError) -> Int32 {
        guard let realm = try await registry.systemRealm(id) else { throw .notFound("pod sandbox \(id) not found") }
        guard realm.state == .ready else { throw .failedPrecondition("pod sandbox \(realm.id) is not ready") }
        return try await backend.connect(realm, port: port)
    }

    /// Changes a created or running container's resource limits and, in the same transition
    /// (under the container's lock, on disk before it returns), its request config by
    /// `requestConfig` (the layer above keeps the resources now in force there). A failure of
    /// either is thrown.
    public func updateResources(_ id: String, resources: RuntimeSpec.Linux.Resources,
                                requestConfig: (@Sendable ([UInt8]) -> [UInt8])? = nil) async throws(FascoError) {
        let container = try await existingContainer(id)
        try await locks.withLock(container.id) { () throws(FascoError) in
            let current = try await existingContainer(container.id.value)
            guard current.state.isLive else {
                throw .failedPrecondition("container \(current.id) is \(current.state.rawValue); only created or running containers are updated")
            }
            try await backend.updateResources(current, bundle: storage.bundleDirectory(of: current), resources: resources)
            if let requestConfig {
                try await registry.update(current.id) { $0.requestConfig = requestConfig($0.requestConfig) }
            }
        }
    }

    public func reopenLog(_ id: String) async throws(FascoError) {
        let container = try await existingContainer(id)
        guard container.state == .running else {
            throw .failedPrecondition("container \(container.id) is \(container.state.rawValue); only a running container's log is reopened")
        }
        try await backend.reopenLog(container)
    }

    /// The pid of the container's process while it exists.
    public func pid(of container: ContainerRealm) async -> Int32? {
        await backend.containerPID(container)
    }

    public func bundle(of container: ContainerRealm) -> String {
        storage.bundleDirectory(of: container)
    }

    /// The directory holding what the container wrote to its root filesystem (nil: none).
    public func writableLayer(of container: ContainerRealm) -> String? {
        storage.writableLayer(of: container)
    }

    // MARK: Queries

    /// Every System Realm the registry holds (not yet removed), oldest first.
    public var systemRealms: [SystemRealm] {
        get async { await registry.allSystemRealms }
    }

    /// Every Container Realm the registry holds (not yet removed), oldest first.
    public var containerRealms: [ContainerRealm] {
        get async { await registry.allContainerRealms }
    }

    /// The Container Realms of System Realm `pod`, oldest first.
    public func containers(of pod: RealmID) async -> [ContainerRealm] {
        await registry.containers(of: pod)
    }

    /// Changes a ready System Realm's request config by `change` (the layer above keeps the
    /// pod-level resources now in force there), under the realm's lock, on disk before it returns.
    public func updateRequestConfig(ofSystemRealm id: RealmID,
                                    _ change: @Sendable ([UInt8]) throws(FascoError) -> [UInt8]) async throws(FascoError) {
        try await locks.withLock(id) { () throws(FascoError) in
            guard let current = try await registry.systemRealm(id.value) else { throw .notFound("pod sandbox \(id) not found") }
            guard current.state == .ready else {
                throw .failedPrecondition("pod sandbox \(id) is not ready; only a ready pod is resized")
            }
            let updated = try change(current.requestConfig)
            _ = try await registry.update(system: id) { $0.requestConfig = updated }
        }
    }

    public func usage(of container: ContainerRealm) async throws(FascoError) -> RealmUsage {
        try await backend.usage(of: container)
    }

    // MARK: Recovery

    /// What start-up found and did.
    public struct RecoveryReport: Sendable, Equatable {
        public var registry: RealmRegistry.Recovery
        /// System Realms whose supervisor was gone (now not ready).
        public var lostSystemRealms: [RealmID]
        /// Containers that exited while the daemon was away (their exits now recorded).
        public var exitedWhileAway: [RealmID]
        /// Containers still running, watched again.
        public var reattached: [RealmID]
        /// Bundles of unknown containers that were removed.
        public var sweptBundles: [String]
    }

    /// Loads the records (System Realms, then Container Realms) and reconciles them with what
    /// the backend still runs: running containers are watched again, exits that happened
    /// meanwhile are recorded, realms whose supervisor died become not ready.
    public func recover() async throws(FascoError) -> RecoveryReport {
        let loaded = try await registry.load()
        var report = RecoveryReport(registry: loaded, lostSystemRealms: [], exitedWhileAway: [], reattached: [], sweptBundles: [])
        for pod in await registry.allSystemRealms where pod.state == .ready {
            if await backend.isRunning(pod) {
                watchSystemRealm(pod)
            } else {
                await systemRealmEnded(pod.id, reason: "the System Realm supervisor was gone when Fasco started")
                report.lostSystemRealms.append(pod.id)
            }
        }
        for container in await registry.allContainerRealms where container.state.isLive || container.state == .unknown {
            switch await backend.containerProcess(container) {
            case .running:
                if container.state == .created {
                    try await registry.update(container.id) { realm in
                        realm.state = .running
                        if realm.startedAt == 0 { realm.startedAt = Self.now() }
                    }
                }
                watch(container)
                report.reattached.append(container.id)
            case .created:
                break
            case .exited(let exit):
                await recordExit(container.id, exit)
                report.exitedWhileAway.append(container.id)
            case .missing:
                // Created and never started: its process is made at start, there is none to find.
                guard container.state != .created else { break }
                await recordExit(container.id, ContainerExit(code: 255, finishedAt: Self.now(), oomKilled: false),
                                 message: "the container was lost while Fasco was not running")
                report.exitedWhileAway.append(container.id)
            }
        }
        let known = Set(await registry.allContainerRealms.map(\.id))
        report.sweptBundles = try await storage.sweep(keeping: known)
        return report
    }

    /// Stops watching (for tests and shutdown); containers keep running.
    public func detach() {
        let tasks = watchers.withLock { watchers -> [Task<Void, Never>] in
            defer { watchers.removeAll() }
            return Array(watchers.values)
        }
        for task in tasks { task.cancel() }
    }
}

extension RealmManager {
    /// Extends the container's REM 1 with a session into it, on disk before the session starts.
    func recordSession(_ container: ContainerRealm, _ session: SessionRecord) async throws(FascoError) {
        guard container.attestation != nil else { return }
        let text = try session.canonicalText()
        try await registry.extendMeasurement(of: container.id, index: SessionRecord.measurementIndex, text: text)
    }
}
