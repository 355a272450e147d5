import FascoCore
import OCISpec
@testable import RealmCore
import Synchronization

/// A RealmBackend and ContainerStorage in memory, for RealmManager's unit tests: no root, no
/// processes. Containers are fake processes that die of any signal they do not ignore; every
/// call is logged; any operation can be made to fail; supervisors can be "lost".
final class FakeRealmBackend: RealmBackend, ContainerStorage, Sendable {
    enum Process: Equatable {
        case running(pid: Int32)
        case exited(ContainerExit)
    }

    struct State {
        var systemRealms: [RealmID: RunningSystemRealm] = [:]
        /// System Realms whose supervisor is gone (lost): not running, their containers' waits fail.
        var lost: Set<RealmID> = []
        var processes: [RealmID: Process] = [:]
        /// Signals each container ignores (9 too: a process stuck in the kernel).
        var ignored: [RealmID: Set<Int32>] = [:]
        var waiters: [RealmID: [Int: CheckedContinuation<Result<ContainerExit, FascoError>, Never>]] = [:]
        var nextWaiter = 0
        var nextPID: Int32 = 100
        var bundles: Set<RealmID> = []
        var failures: [String: FascoError] = [:]
        var calls: [String] = []
        /// Resource updates applied, per container.
        var updates: [RealmID: [RuntimeSpec.Linux.Resources]] = [:]
        /// The spec each created container's process would be made from.
        var specs: [RealmID: RuntimeSpec] = [:]
    }

    let state = Mutex(State())
    let root: String
    /// How long `updateResources` takes (to let other calls try to interleave).
    let updateDelay: Duration

    init(root: String = "/nonexistent/fake", updateDelay: Duration = .zero) {
        self.root = root
        self.updateDelay = updateDelay
    }

    // MARK: Test controls

    var calls: [String] { state.withLock { $0.calls } }

    func calls(_ prefix: String) -> [String] { calls.filter { $0.hasPrefix(prefix) } }

    /// Makes `operation` (a method's name, e.g. "startSystemRealm") throw `error` from now on.
    func fail(_ operation: String, with error: FascoError = .internal("injected failure")) {
        state.withLock { $0.failures[operation] = error }
    }

    func succeed(_ operation: String) {
        state.withLock { _ = $0.failures.removeValue(forKey: operation) }
    }

    func ignore(_ signals: Set<Int32>, in container: RealmID) {
        state.withLock { $0.ignored[container] = signals }
    }

    func process(_ container: RealmID) -> Process? { state.withLock { $0.processes[container] } }

    /// The container's process exits by itself (as when the daemon was away).
    func exit(_ container: RealmID, code: Int32, at time: Int64 = 42) {
        finish(container, ContainerExit(code: code, finishedAt: time, oomKilled: false))
    }

    /// The System Realm's supervisor dies: its containers' processes and exits are gone with it.
    func loseSupervisor(of realm: RealmID, containers: [RealmID]) {
        let waiters = state.withLock { state -> [CheckedContinuation<Result<ContainerExit, FascoError>, Never>] in
            state.lost.insert(realm)
            var all: [CheckedContinuation<Result<ContainerExit, FascoError>, Never>] = []
            for id in containers {
                state.processes[id] = nil
                all += state.waiters.removeValue(forKey: id)?.values.map { $0 } ?? []
            }
            return all
        }
        for waiter in waiters { waiter.resume(returning: .failure(.unavailable("the supervisor went away"))) }
    }

    private func record(_ call: String) throws(FascoError) {
        let failure = state.withLock { state -> FascoError? in
            state.calls.append(call)
            let operation = String(call.prefix { $0 != " " })
            return state.failures[operation]
        }
        if let failure { throw failure }
    }

    private func finish(_ container: RealmID, _ exit: ContainerExit) {
        let waiters = state.withLock { state -> [CheckedContinuation<Result<ContainerExit, FascoError>, Never>] in
            state.processes[container] = .exited(exit)
            return state.waiters.removeValue(forKey: container)?.values.map { $0 } ?? []
        }
        for waiter in waiters { waiter.resume(returning: .success(exit)) }
    }

    // MARK: System Realms

    func startSystemRealm(_ realm: SystemRealm, request: SystemRealmRequest) async throws(FascoError) -> RunningSystemRealm {
        try record("startSystemRealm \(realm.id)")
        let runtime = RunningSystemRealm(supervisorPID: 10, directory: root + "/realms/" + realm.id.value, networkNamespace: nil,
                                         ipcNamespace: nil, utsNamespace: nil, pidNamespace: nil, files: [:], shmPath: "/dev/shm",
                                         cgroupParent: "/fake", addresses: [])
        state.withLock { $0.systemRealms[realm.id] = runtime }
        return runtime
    }

    func stopSystemRealm(_ realm: SystemRealm) async throws(FascoError) {
        try record("stopSystemRealm \(realm.id)")
        state.withLock { _ = $0.lost.insert(realm.id) }
    }

    func removeSystemRealm(_ realm: SystemRealm) async throws(FascoError) {
        try record("removeSystemRealm \(realm.id)")
        state.withLock {
            $0.systemRealms[realm.id] = nil
            $0.lost.remove(realm.id)
        }
    }

    func runningSystemRealm(_ id: RealmID) async -> RunningSystemRealm? {
        state.withLock { $0.systemRealms[id] }
    }

    func isRunning(_ realm: SystemRealm) async -> Bool {
        state.withLock { $0.systemRealms[realm.id] != nil && !$0.lost.contains(realm.id) }
    }

    // MARK: Container Realms

    func createContainer(_ container: ContainerRealm, spec: RuntimeSpec, bundle: String) async throws(FascoError) {
        // As the software backend: the process is made when the container starts.
        try record("createContainer \(container.id)")
        state.withLock { $0.specs[container.id] = spec }
    }

    func runtimeSpec(of container: ContainerRealm, bundle: String) async throws(FascoError) -> RuntimeSpec {
        try record("runtimeSpec \(container.id)")
        guard let spec = state.withLock({ $0.specs[container.id] }) else { throw .notFound("no spec for \(container.id)") }
        return spec
    }

    func replaceRuntimeSpec(of container: ContainerRealm, bundle: String, with spec: RuntimeSpec) async throws(FascoError) {
        try record("replaceRuntimeSpec \(container.id)")
        state.withLock { $0.specs[container.id] = spec }
    }

    func startContainer(_ container: ContainerRealm, bundle: String) async throws(FascoError) -> Int32 {
        try record("startContainer \(container.id)")
        return state.withLock { state in
            state.nextPID += 1
            state.processes[container.id] = .running(pid: state.nextPID)
            return state.nextPID
        }
    }

    func signalContainer(_ container: ContainerRealm, signal: Int32) async throws(FascoError) {
        try record("signalContainer \(container.id) \(signal)")
        let dies = state.withLock { state -> Bool in
            guard case .running = state.processes[container.id] else { return false }
            return !(state.ignored[container.id] ?? []).contains(signal)
        }
        if dies { finish(container.id, ContainerExit(code: 128 + signal, finishedAt: RealmManager.now(), oomKilled: false)) }
    }

    func waitContainer(_ container: ContainerRealm) async throws(FascoError) -> ContainerExit {
        let id = container.id
        let token = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<ContainerExit, FascoError>, Never>) in
                let immediate = state.withLock { state -> Result<ContainerExit, FascoError>? in
                    if Task.isCancelled { return .failure(.unavailable("cancelled")) }
                    switch state.processes[id] {
                    case .exited(let exit): return .success(exit)
                    case nil: return .failure(.notFound("no process"))
                    default:
                        if state.lost.contains(container.systemRealm) {
                            return .failure(.unavailable("the supervisor is gone"))
                        }
                        state.waiters[id, default: [:]][token] = continuation
                        return nil
                    }
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters[id]?.removeValue(forKey: token) }
            waiter?.resume(returning: .failure(.unavailable("cancelled")))
        }
        return try result.get()
    }

    func containerProcess(_ container: ContainerRealm) async -> ContainerProcess {
        switch state.withLock({ $0.processes[container.id] }) {
        case .running(let pid): .running(pid: pid)
        case .exited(let exit): .exited(exit)
        case nil: .missing
        }
    }

    func containerPID(_ container: ContainerRealm) async -> Int32? {
        if case .running(let pid) = state.withLock({ $0.processes[container.id] }) { return pid }
        return nil
    }

    func releaseExited(_ container: ContainerRealm) async {
        state.withLock { $0.calls.append("releaseExited \(container.id)") }
    }

    func removeContainer(_ container: ContainerRealm) async throws(FascoError) {
        try record("removeContainer \(container.id)")
        state.withLock { _ = $0.processes.removeValue(forKey: container.id) }
    }

    func exec(_ container: ContainerRealm, bundle: String, command: [String], timeout: Duration?, outputLimit: Int) async throws(FascoError) -> ExecResult {
        try record("exec \(container.id)")
        return ExecResult(exitCode: 0, stdout: [], stderr: [], timedOut: false)
    }

    func startExec(_ container: ContainerRealm, bundle: String, command: [String], stdio: ExecStdio) async throws(FascoError) -> InteractiveProcess {
        throw .unimplemented("not in the fake")
    }

    func attach(_ container: ContainerRealm) async throws(FascoError) -> InteractiveProcess {
        throw .unimplemented("not in the fake")
    }

    func connect(_ realm: SystemRealm, port: UInt16) async throws(FascoError) -> Int32 {
        throw .unimplemented("not in the fake")
    }

    func updateResources(_ container: ContainerRealm, bundle: String, resources: RuntimeSpec.Linux.Resources) async throws(FascoError) {
        try record("updateResources \(container.id) begin")
        if updateDelay > .zero { try? await Task.sleep(for: updateDelay) }
        state.withLock {
            $0.updates[container.id, default: []].append(resources)
            $0.calls.append("updateResources \(container.id) end")
        }
    }

    func reopenLog(_ container: ContainerRealm) async throws(FascoError) {
        try record("reopenLog \(container.id)")
    }

    /// The fake runs no processes: no pid is a container's.
    func container(ofProcess pid: Int32, among containers: [ContainerRealm]) async -> RealmID? { nil }

    func usage(of container: ContainerRealm) async throws(FascoError) -> RealmUsage { RealmUsage(timestamp: 0) }

    func usage(of realm: SystemRealm) async throws(FascoError) -> RealmUsage { RealmUsage(timestamp: 0) }

    // MARK: ContainerStorage

    func prepare(_ container: ContainerRealm, pod: RunningSystemRealm) async throws(FascoError) -> ContainerBundle {
        try record("prepare \(container.id)")
        state.withLock { _ = $0.bundles.insert(container.id) }
        return ContainerBundle(directory: bundleDirectory(of: container), rootfs: bundleDirectory(of: container) + "/rootfs",
                               locked: container.image.hasPrefix(Self.encryptedImagePrefix))
    }

    /// Images whose name starts with this have encrypted layers: their bundles come back locked.
    static let encryptedImagePrefix = "encrypted/"

    /// Records the unlock and, with a key broker, fetches the resource `kbs:///fake/key/<image>`.
    func unlock(_ container: ContainerRealm, pod: RunningSystemRealm, spec: RuntimeSpec,
                resource: (@Sendable (String) async throws(FascoError) -> [UInt8])?) async throws(FascoError) {
        try record("unlock \(container.id)")
        if let resource { _ = try await resource("kbs:///fake/key/" + container.image) }
    }

    nonisolated func bundleDirectory(of container: ContainerRealm) -> String {
        root + "/containers/" + container.id.value
    }

    nonisolated func writableLayer(of container: ContainerRealm) -> String? { nil }

    func unmount(_ container: ContainerRealm) async {
        state.withLock { $0.calls.append("unmount \(container.id)") }
    }

    func release(_ container: ContainerRealm) async throws(FascoError) {
        try record("release \(container.id)")
        state.withLock { _ = $0.bundles.remove(container.id) }
    }

    func sweep(keeping known: Set<RealmID>) async throws(FascoError) -> [String] {
        try record("sweep")
        return state.withLock { state in
            let unknown = state.bundles.subtracting(known)
            state.bundles.subtract(unknown)
            return unknown.map(\.value).sorted()
        }
    }

    var bundles: Set<RealmID> { state.withLock { $0.bundles } }
}
