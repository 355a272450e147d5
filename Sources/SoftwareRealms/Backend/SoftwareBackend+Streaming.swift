import FascoCore
import FoundationEssentials
import OCISpec
import RealmCore
import Synchronization

extension SoftwareBackend {
    public func startExec(_ container: ContainerRealm, bundle: String, command: [String], stdio: ExecStdio) async throws(FascoError) -> InteractiveProcess {
        var process = try execProcess(container, bundle: bundle)
        process.args = command
        return try await runtime.startExec(id: container.id.value, process: process, stdio: stdio)
    }

    public func attach(_ container: ContainerRealm) async throws(FascoError) -> InteractiveProcess {
        let client = client(of: container.systemRealm)
        let attached = try await client.attach(id: container.id.value)
        // A terminal container's size is set by its supervisor, which holds the terminal; the
        // latest size wins (sizes are sent one at a time, in order).
        let sizes = TerminalSizes(client: client, id: container.id.value)
        // The container is not the client's to kill; its output ending is the attach's end.
        return InteractiveProcess(stdin: attached.stdin, stdout: attached.stdout, stderr: attached.stderr,
                                  resize: { columns, rows in sizes.set(columns: columns, rows: rows) },
                                  wait: { .success(0) }, kill: {})
    }

    public func connect(_ realm: SystemRealm, port: UInt16) async throws(FascoError) -> Int32 {
        guard let pod = loadRuntime(realm.id) else { throw .notFound("pod sandbox \(realm.id) has no runtime record") }
        // A pod with a network of its own is reached in it; host-network pods on the host's loopback.
        if pod.networkNamespace != nil, !(await isRunning(realm)) {
            throw .unavailable("pod sandbox \(realm.id) has lost its network namespace (its supervisor is gone)")
        }
        return try await NamespaceConnector.connect(namespace: pod.networkNamespace, port: port)
    }

    /// The container's own process settings (user, groups, env, cwd, capabilities) from its bundle.
    func execProcess(_ container: ContainerRealm, bundle: String) throws(FascoError) -> RuntimeSpec.Process {
        guard let bytes = try FileSystem.read(bundle + "/config.json", limit: 4 << 20) else {
            throw .failedPrecondition("container \(container.id) has no runtime spec at \(bundle)")
        }
        let spec: RuntimeSpec
        do { spec = try JSONDecoder().decode(RuntimeSpec.self, from: Data(bytes)) } catch {
            throw .internal("cannot read the runtime spec of container \(container.id)", cause: error)
        }
        guard let process = spec.process else { throw .failedPrecondition("container \(container.id) has no process") }
        return process
    }
}

/// Sizes for one attached terminal, sent to the supervisor one at a time: a size that comes
/// while one is being sent replaces any still waiting, so the last one asked for is the last
/// one set. Failures (a container without a terminal, one that exited) are dropped: a resize
/// is advice.
final class TerminalSizes: Sendable {
    private struct State {
        var waiting: (columns: UInt16, rows: UInt16)?
        var sending = false
    }

    private let client: SupervisorClient
    private let id: String
    private let state = Mutex(State())

    init(client: SupervisorClient, id: String) {
        self.client = client
        self.id = id
    }

    func set(columns: UInt16, rows: UInt16) {
        guard columns > 0, rows > 0 else { return }
        let start = state.withLock { state -> Bool in
            state.waiting = (columns, rows)
            if state.sending { return false }
            state.sending = true
            return true
        }
        guard start else { return }
        Task { await self.send() }
    }

    private func send() async {
        while let next = state.withLock({ state -> (columns: UInt16, rows: UInt16)? in
            guard let waiting = state.waiting else {
                state.sending = false
                return nil
            }
            state.waiting = nil
            return waiting
        }) {
            try? await client.resize(id: id, columns: next.columns, rows: next.rows)
        }
    }
}
