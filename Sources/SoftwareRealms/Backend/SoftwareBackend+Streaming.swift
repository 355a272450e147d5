import FascoCore
import FoundationEssentials
import OCISpec
import RealmCore

extension SoftwareBackend {
    public func startExec(_ container: ContainerRealm, bundle: String, command: [String], stdio: ExecStdio) async throws(FascoError) -> InteractiveProcess {
        var process = try execProcess(container, bundle: bundle)
        process.args = command
        return try await runtime.startExec(id: container.id.value, process: process, stdio: stdio)
    }

    public func attach(_ container: ContainerRealm) async throws(FascoError) -> InteractiveProcess {
        let attached = try await client(of: container.systemRealm).attach(id: container.id.value)
        // The container is not the client's to kill; its output ending is the attach's end.
        return InteractiveProcess(stdin: attached.stdin, stdout: attached.stdout, stderr: attached.stderr,
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
