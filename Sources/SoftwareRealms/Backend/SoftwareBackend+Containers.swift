import FascoCore
import FoundationEssentials
import ImageStore
import OCISpec
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

extension SoftwareBackend {
    func pidFile(_ container: ContainerRealm, bundle: String) -> String { bundle + "/init.pid" }

    /// Writes the bundle's config.json from `spec` as this backend runs it (`runnable`), after
    /// making the mount points a container in a user namespace cannot make itself.
    public func createContainer(_ container: ContainerRealm, spec: RuntimeSpec, bundle: String) async throws(FascoError) {
        guard let pod = loadRuntime(container.systemRealm) else {
            throw .failedPrecondition("pod \(container.systemRealm) has no runtime record: it is not running here")
        }
        // A pod keeps the driver it started with; a daemon restarted with the other one cannot
        // place its containers (nor would the runtime read their cgroupsPath right).
        if (pod.systemdSlice != nil) != (configuration.runtime.cgroupDriver == .systemd) {
            throw .failedPrecondition(
                "pod \(container.systemRealm) was started with the \(pod.systemdSlice != nil ? "systemd" : "cgroupfs") cgroup driver, and the runtime now uses \(configuration.runtime.cgroupDriver.rawValue)")
        }
        let spec = try Self.runnable(spec, containerID: container.id.value, pod: pod, oomScoreAdjFloor: Self.daemonOOMScoreAdj())
        if let rootfs = spec.root?.path {
            for point in Self.mountPoints(of: spec, isFile: { FileSystem.exists($0) && !FileSystem.isDirectory($0) }) {
                try RootfsFile.makeMountPoint(point.path, inRoot: rootfs, file: point.file)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(spec) } catch { throw .internal("cannot encode the runtime spec", cause: error) }
        // Not flushed: a container's bundle does not outlive a reboot (its processes do not either).
        try FileSystem.writeAtomically(Array(data), to: bundle + "/config.json", mode: 0o600, durable: false)
    }

    public func startContainer(_ container: ContainerRealm, bundle: String) async throws(FascoError) -> Int32 {
        let id = container.id.value
        // A start that failed after the runtime's create leaves the container for RemoveContainer to delete.
        if !runtime.knows(id: id) { try await runtimeCreate(container, bundle: bundle) }
        try await runtime.start(id: id)
        // The pid is for reporting only: 0 when the supervisor cannot list the container now.
        return (try? await client(of: container.systemRealm).list().first(where: { $0.id == id })?.pid) ?? 0
    }

    /// The runtime's `create`, run by the realm's supervisor, which so owns the container's
    /// stdio and becomes its subreaper.
    private func runtimeCreate(_ container: ContainerRealm, bundle: String) async throws(FascoError) {
        let id = container.id.value
        // The realm's supervisor hides the mounts the runtime must not see (launched with --hide-mount).
        // A container with a terminal hands it to the supervisor through a socket in the realm's directory.
        let terminal = try execProcess(container, bundle: bundle).terminal == true
        let consoleSocket = terminal ? "\(directory(of: container.systemRealm))/tty-\(id.prefix(12)).sock" : nil
        let argv = try runtime.createArgv(id: id, bundle: bundle, pidFile: pidFile(container, bundle: bundle), consoleSocket: consoleSocket)
        let logPath = container.logPath.isEmpty ? "/dev/null" : container.logPath
        if logPath != "/dev/null", let slash = logPath.lastIndex(of: "/"), slash != logPath.startIndex {
            try FileSystem.makeDirectories(String(logPath[..<slash]), mode: 0o755)
        }
        defer { unlink(runtime.createLog(id: id)) }
        // The supervisor runs the runtime's create and answers when it exited: its time is the runtime's.
        let started = ContinuousClock.now
        defer { runtime.recordDuration("create", since: started) }
        do {
            _ = try await client(of: container.systemRealm).create(
                id: id, pidFile: pidFile(container, bundle: bundle), logPath: logPath, argv: argv, stdin: container.stdin,
                consoleSocket: consoleSocket)
        } catch {
            // The runtime's own log says why more precisely than its exit status.
            let said = runtime.createErrors(id: id)
            if let failure = error.cause as? SupervisorCreateFailure {
                let text = said.isEmpty ? failure.output : said.joined(separator: "; ")
                // The user's mistakes (an entry point the image lacks, unified on cgroup v1)
                // are answered as such; anything else the runtime refused is unexplained.
                if let refusal = RuntimeRefusal.recognise(text) {
                    throw refusal.error("\(runtime.kind.rawValue) create \(container.id.short)", runtime: runtime.kind.rawValue, said: text)
                }
                throw FascoError(.internal, "\(runtime.kind.rawValue) create \(container.id.short) failed: \(text)", cause: failure)
            }
            throw error
        }
    }

    public func signalContainer(_ container: ContainerRealm, signal: Int32) async throws(FascoError) {
        try await runtime.kill(id: container.id.value, signal: signal)
    }

    public func waitContainer(_ container: ContainerRealm) async throws(FascoError) -> ContainerExit {
        let exit = try await client(of: container.systemRealm).wait(id: container.id.value)
        return ContainerExit(code: exit.code, finishedAt: exit.finishedAt, oomKilled: exit.oom)
    }

    public func containerProcess(_ container: ContainerRealm) async -> ContainerProcess {
        let client = client(of: container.systemRealm)
        let id = container.id.value
        // A supervisor that does not answer (gone with its pod) leaves the exit it persisted.
        if let listed = try? await client.list() {
            if let record = listed.first(where: { $0.id == id }) {
                switch record.state {
                case .exited:
                    if let exit = record.exit { return .exited(ContainerExit(code: exit.code, finishedAt: exit.finishedAt, oomKilled: exit.oom)) }
                case .creating:
                    return .created(pid: 0)
                case .running:
                    // Created but not started yet? A runtime that cannot say: running, as the supervisor says.
                    if let state = try? await runtime.state(id: id), state.status == .created {
                        return .created(pid: record.pid)
                    }
                    return .running(pid: record.pid)
                }
            }
        }
        // No exit file, or one that cannot be read: nothing is known of the container.
        if let exit = try? client.persistedExit(id: id) {
            return .exited(ContainerExit(code: exit.code, finishedAt: exit.finishedAt, oomKilled: exit.oom))
        }
        return .missing
    }

    /// The running container's pid; nil when it is not running, or its supervisor cannot list it.
    public func containerPID(_ container: ContainerRealm) async -> Int32? {
        guard let record = try? await client(of: container.systemRealm).list().first(where: { $0.id == container.id.value }),
              record.state != .exited, record.pid > 0 else { return nil }
        return record.pid
    }

    public func releaseExited(_ container: ContainerRealm) async {
        guard runtime.knows(id: container.id.value) else { return }
        do throws(FascoError) {
            try await runtime.delete(id: container.id.value)
        } catch {
            // RemoveContainer deletes it again, and reports a failure then.
            configuration.logger.cleanUpFailed(
                "release an exited container's runtime state", error: error, pod: container.systemRealm.value,
                container: container.id.value, retried: true)
        }
    }

    public func removeContainer(_ container: ContainerRealm) async throws(FascoError) {
        let id = container.id.value
        do {
            // Nothing to ask the runtime when its state directory is gone (released at exit).
            if runtime.knows(id: id) { try await runtime.delete(id: id, force: true) }
        } catch where error.code == .notFound {
            // Never created, or deleted already.
        } catch {
            // A runtime that no longer knows the container says so in its own words (its state
            // fails too); one that still knows it fails the removal, to be retried. Taken at its
            // word, the container is removed, and whatever its delete did not remove (its state
            // directory at least) is reported as left.
            let state: FascoError?
            do throws(FascoError) {
                _ = try await runtime.state(id: id)
                state = nil
            } catch let failure {
                state = failure
            }
            guard let state else { throw error }
            configuration.logger.cleanUpFailed(
                "delete the container in the runtime", error: error, pod: container.systemRealm.value, container: id,
                left: "\(runtime.stateRoot)/\(id) (the runtime's state says: \(state.message))")
        }
        do {
            try await client(of: container.systemRealm).forget(id: id)
        } catch where error.cause is SupervisorConnection.NotRunning || error.code == .unavailable {
            // The supervisor is gone with the pod; its persisted exit goes with the realm directory.
            unlink("\(directory(of: container.systemRealm))/exits/\(id)")
        }
        if let pod = loadRuntime(container.systemRealm) {
            // What the runtime left (systemd: directories in the hierarchies it does not manage).
            try await PodCgroup(host: configuration.cgroups, path: containerCgroupPath(pod: pod, containerID: id)).remove()
        }
    }

    public func exec(_ container: ContainerRealm, bundle: String, command: [String], timeout: Duration?, outputLimit: Int) async throws(FascoError) -> ExecResult {
        // The container's own process settings, with the command in place of its args.
        var process = try execProcess(container, bundle: bundle)
        process.args = command
        process.terminal = false
        process.consoleSize = nil
        let output = try await runtime.exec(id: container.id.value, process: process, timeout: timeout ?? .seconds(365 * 86400), outputLimit: outputLimit)
        guard let output else { return ExecResult(exitCode: -1, stdout: [], stderr: [], timedOut: true) }
        return ExecResult(exitCode: output.exit.shellStatus, stdout: output.stdout, stderr: output.stderr, timedOut: false)
    }

    public func updateResources(_ container: ContainerRealm, bundle: String, resources: RuntimeSpec.Linux.Resources) async throws(FascoError) {
        if runtime.knows(id: container.id.value) {
            try await runtime.update(id: container.id.value, resources: resources)
            return
        }
        // Not made yet (created, not started): the limits go into the spec it will be made from.
        let path = bundle + "/config.json"
        guard let bytes = try FileSystem.read(path, limit: 4 << 20) else { throw .failedPrecondition("container \(container.id) has no runtime spec") }
        var spec: RuntimeSpec
        do { spec = try JSONDecoder().decode(RuntimeSpec.self, from: Data(bytes)) } catch {
            throw .internal("cannot read the runtime spec of container \(container.id)", cause: error)
        }
        var current = spec.linux?.resources ?? RuntimeSpec.Linux.Resources()
        if let memory = resources.memory { current.memory = memory }
        if let cpu = resources.cpu { current.cpu = cpu }
        if let pids = resources.pids { current.pids = pids }
        if let hugepages = resources.hugepageLimits { current.hugepageLimits = hugepages }
        if let unified = resources.unified { current.unified = unified }
        var linux = spec.linux ?? RuntimeSpec.Linux()
        linux.resources = current
        spec.linux = linux
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(spec) } catch { throw .internal("cannot encode the runtime spec", cause: error) }
        try FileSystem.writeAtomically(Array(data), to: path, mode: 0o600, durable: false)
    }

    public func reopenLog(_ container: ContainerRealm) async throws(FascoError) {
        try await client(of: container.systemRealm).reopen(id: container.id.value)
    }

    public func usage(of container: ContainerRealm) async throws(FascoError) -> RealmUsage {
        guard let pod = loadRuntime(container.systemRealm) else { throw .notFound("pod sandbox \(container.systemRealm) has no cgroup") }
        return try CgroupStats.read(path: containerCgroupPath(pod: pod, containerID: container.id.value), host: configuration.cgroups).usage
    }
}
