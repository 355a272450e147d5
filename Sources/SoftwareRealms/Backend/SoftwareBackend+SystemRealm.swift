import FascoCore
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

extension SoftwareBackend {
    public func startSystemRealm(_ realm: SystemRealm, request: SystemRealmRequest) async throws(FascoError) -> RunningSystemRealm {
        try await namespaceReaper.busy { () throws(FascoError) -> RunningSystemRealm in
            let directory = directory(of: realm.id)
            // Never another realm's directory: a (96-bit) prefix collision fails here, before any cleanup could touch it.
            guard mkdir(directory, 0o700) == 0 else {
                throw errno == EEXIST ? .alreadyExists("realm directory \(directory) exists already") : .internal("cannot create \(directory): \(FileSystem.errnoText)")
            }
            do throws(FascoError) {
                return try await start(realm, request: request, directory: directory)
            } catch {
                do throws(FascoError) {
                    try await teardown(realm, removing: true)
                } catch let cleanUp {
                    configuration.logger.cleanUpFailed(
                        "tear down a realm whose start failed", error: cleanUp, pod: realm.id.value, left: "what the realm's start made")
                }
                throw error
            }
        }
    }

    private func start(_ realm: SystemRealm, request: SystemRealmRequest, directory: String) async throws(FascoError) -> RunningSystemRealm {
        let placement = try podPlacement(realm, request: request)
        try preparePodCgroup(placement, of: realm)
        // Saved before anything runs, so that a crash from here on leaves a record to clean up from.
        var runtime = RunningSystemRealm(
            supervisorPID: 0, directory: directory, networkNamespace: nil, ipcNamespace: nil, utsNamespace: nil,
            pidNamespace: nil, files: [:], shmPath: "/dev/shm", cgroupParent: placement.path, addresses: [])
        runtime.systemdSlice = placement.slice
        try saveRuntime(runtime, for: realm.id)

        let ownUTS = request.network == .realm
        let pin = NetworkNamespacePin.path(in: directory)
        // The pod's network (CNI ADD, the slowest step) is set up while the rest is done; every
        // way out of this function waits for it first, so a teardown never races an ADD in
        // flight. Without a CNI configuration the realm has its loopback only (Status says
        // NetworkReady=false).
        let plugins = request.network == .realm ? configuration.network.flatMap { $0.readiness().ready ? $0 : nil } : nil
        var network: Task<Result<[String], FascoError>, Never>?
        func setUpNetwork() {
            guard let plugins else { return }
            let attachment = attachment(realm, request: request, netns: pin)
            network = Task { await .of { () throws(FascoError) in try await plugins.setUp(attachment).podIPs } }
        }
        // Without a user namespace the daemon makes the pod's network namespace, so its set-up
        // starts before the supervisor; with one, the namespace must belong to the pod's user
        // namespace, and the supervisor's pause child makes it.
        let early = request.network == .realm && request.userNamespace == nil
        if early {
            try await NetworkNamespacePin.create(at: pin)
            setUpNetwork()
        }
        let supervisor: SupervisorProcess
        do throws(FascoError) {
            supervisor = try await SupervisorProcess.launch(
                binary: configuration.supervisorBinary, directory: directory, hostname: ownUTS ? request.hostname : nil,
                namespaces: .init(
                    network: request.network == .realm, ipc: request.ipc == .realm, uts: ownUTS, pid: request.sharedPID,
                    user: request.userNamespace, networkPath: early ? pin : nil),
                // The runtimes it runs then see no hybrid cgroup layout, without a launcher of their own.
                hiddenMounts: self.runtime.launcher?.mountPoints ?? [], logger: configuration.logger.forRealm(pod: realm.id.value))
            runtime.supervisorPID = supervisor.pid
            if request.network == .realm {
                if !early {
                    try NetworkNamespacePin.bind(supervisor.namespacePath("net"), at: pin)
                    setUpNetwork()
                }
                runtime.networkNamespace = pin
            }
            try saveRuntime(runtime, for: realm.id)
            try await placeSupervisor(supervisor, of: realm, placement: placement)
            try finishStart(realm, request: request, supervisor: supervisor, directory: directory, runtime: &runtime)
        } catch {
            // The start's own failure is what the caller gets; the network's, if it failed too,
            // is reported here (the teardown of the failed start runs DEL either way).
            if case .failure(let failure)? = await network?.value {
                configuration.logger.warning("the pod's CNI ADD failed too while its start failed", metadata: [
                    "realm": "\(realm.id)", "podSandboxID": "\(realm.id)", "step": "CNI ADD", "error": "\(failure)",
                ])
            }
            throw error
        }
        if let network { runtime.addresses = try await network.value.get() }
        runtime.complete = true
        try saveRuntime(runtime, for: realm.id)
        return runtime
    }

    /// What starting a realm does besides its network and cgroups: the namespace paths, the
    /// pod's files and /dev/shm.
    private func finishStart(_ realm: SystemRealm, request: SystemRealmRequest, supervisor: SupervisorProcess,
                             directory: String, runtime: inout RunningSystemRealm) throws(FascoError) {
        let ownUTS = request.network == .realm
        if request.ipc == .realm { runtime.ipcNamespace = supervisor.namespacePath("ipc") }
        if ownUTS { runtime.utsNamespace = supervisor.namespacePath("uts") }
        runtime.pidNamespace = supervisor.pidNamespacePath
        runtime.userNamespace = supervisor.userNamespacePath

        for (name, content) in request.files.sorted(by: { $0.key < $1.key }) {
            guard ["hosts", "resolv.conf", "hostname"].contains(name) else { throw .invalidArgument("unknown realm file \(name)") }
            let path = "\(directory)/\(name)"
            try FileSystem.writeAtomically(Array(content.utf8), to: path, mode: 0o644, durable: false)
            runtime.files[name] = path
        }
        if request.ipc == .realm {
            runtime.shmPath = try mountShm(in: directory, bytes: request.shmBytes)
        }
        try saveRuntime(runtime, for: realm.id)
    }

    func attachment(_ realm: SystemRealm, request: SystemRealmRequest?, netns: String) -> CNIAttachment {
        CNIAttachment(
            containerID: realm.id.value, networkNamespace: netns,
            podNamespace: realm.metadata.namespace, podName: realm.metadata.name, podUID: realm.metadata.uid,
            portMappings: (request?.portMappings ?? []).map {
                CNIPortMapping(hostPort: $0.hostPort, containerPort: $0.containerPort, protocol: $0.proto, hostIP: $0.hostIP)
            })
    }

    private func mountShm(in directory: String, bytes: UInt64) throws(FascoError) -> String {
        let path = directory + "/shm"
        try FileSystem.makeDirectories(path, mode: 0o1777)
        let options = "mode=1777,size=\(max(bytes, 4096))"
        guard mount("shm", path, "tmpfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), options) == 0 else {
            throw .internal("cannot mount /dev/shm for the realm at \(path): \(FileSystem.errnoText)")
        }
        return path
    }

    public func stopSystemRealm(_ realm: SystemRealm) async throws(FascoError) {
        try await namespaceReaper.busy { () throws(FascoError) in try await teardown(realm, removing: false) }
    }

    public func removeSystemRealm(_ realm: SystemRealm) async throws(FascoError) {
        try await namespaceReaper.busy { () throws(FascoError) in try await teardown(realm, removing: true) }
    }

    /// Network down, supervisor (and with it every process of the realm) gone; with `removing`
    /// also the shm mount, the cgroup and the state directory. Each step tolerates being done already.
    private func teardown(_ realm: SystemRealm, removing: Bool) async throws(FascoError) {
        let directory = directory(of: realm.id)
        let pin = NetworkNamespacePin.path(in: directory)
        let record: RunningSystemRealm?
        do throws(FascoError) {
            record = try readRuntime(realm.id)
        } catch {
            // Without the record nothing says where the realm's network, supervisor and cgroup
            // are: they are left, and only its directory goes.
            configuration.logger.cleanUpFailed(
                "read the runtime record to tear the realm down", error: error, pod: realm.id.value,
                left: "the realm's network, supervisor and cgroup, if it had them")
            record = nil
        }
        guard var runtime = record else {
            if removing {
                try NetworkNamespacePin.release(pin)
                try FileSystem.removeTree(directory)
            }
            return
        }
        // The network is torn down (CNI DEL) while the supervisor shuts down: the bound namespace
        // keeps the pod's interface for DEL to find. A pod from before namespaces were bound
        // names its supervisor's, which is usable only while that runs.
        var network: Task<Result<Void, FascoError>, Never>?
        if let plugins = configuration.network, let namespace = runtime.networkNamespace,
           await attached(realm, plugins: plugins) {
            // DEL is idempotent; the namespace may be gone already (CNI allows an empty netns then).
            let usable = namespace == pin ? NetworkNamespacePin.isBound(pin) : SupervisorProcess.isRunning(directory: directory)
            let attachment = attachment(realm, request: nil, netns: usable ? namespace : "")
            // Concurrently only when the namespace outlives the supervisor.
            if namespace == pin {
                network = Task { await .of { () throws(FascoError) in try await plugins.tearDown(attachment) } }
            } else {
                try await plugins.tearDown(attachment)
            }
        }
        do throws(FascoError) {
            if let supervisor = try SupervisorProcess.attach(directory: directory) {
                try await supervisor.client.shutdown()
                _ = try await supervisor.waitForExit(timeout: .seconds(30))
            }
        } catch {
            if case .failure(let deletion)? = await network?.value {
                // DEL keeps the attachment record when it fails: the teardown retried after
                // this failure runs it again.
                configuration.logger.cleanUpFailed(
                    "CNI DEL while the supervisor shut down", error: deletion, pod: realm.id.value, retried: true)
            }
            throw error
        }
        try await network?.value.get()
        try await releaseSupervisorCgroup(of: realm, running: runtime)
        // The namespace goes with the pod's network, a moment later in a batch (the kernel
        // deletes any interface left in it then).
        try NetworkNamespacePin.release(pin, holdingWith: namespaceReaper)
        if runtime.supervisorPID != 0 {
            runtime.supervisorPID = 0
            try saveRuntime(runtime, for: realm.id)
        }
        guard removing else { return }
        if runtime.shmPath == directory + "/shm" {
            if umount2(runtime.shmPath, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
                throw .internal("cannot unmount \(runtime.shmPath): \(FileSystem.errnoText)")
            }
        }
        try await removePodCgroup(of: realm, running: runtime)
        try FileSystem.removeTree(directory)
        supervisorWatcher.forget(directory: directory)
    }

    /// Whether the realm's CNI ADD finished (its attachment record holds a result): only then
    /// does teardown run DEL as part of it. A record that cannot be read is reported, and DEL
    /// runs at once without it (CNINetwork detaches with the current configuration and an empty
    /// namespace, which frees the pod's address); if that fails too it is reported and the
    /// teardown goes on: a damaged record never keeps a pod from being removed.
    private func attached(_ realm: SystemRealm, plugins: CNINetwork) async -> Bool {
        do throws(FascoError) {
            return try plugins.cachedResult(containerID: realm.id.value) != nil
        } catch {
            configuration.logger.cleanUpFailed(
                "read the pod's CNI attachment record before DEL", error: error, pod: realm.id.value,
                left: "the pod's CNI attachment record (DEL runs without it)")
        }
        do throws(FascoError) {
            try await plugins.tearDown(attachment(realm, request: nil, netns: ""))
        } catch {
            configuration.logger.cleanUpFailed(
                "CNI DEL without a readable attachment record", error: error, pod: realm.id.value,
                left: "the pod's CNI attachment (its address) and record")
        }
        return false
    }

    public func usage(of realm: SystemRealm) async throws(FascoError) -> RealmUsage {
        guard let runtime = loadRuntime(realm.id) else { throw .notFound("pod sandbox \(realm.id) has no cgroup") }
        return try CgroupStats.read(path: runtime.cgroupParent, host: configuration.cgroups).usage
    }
}

extension SoftwareBackend {
    /// What a System Realm started from `request` in `directory` offers its containers, as
    /// `start` and `finishStart` make it, without starting anything: for reference values
    /// offline (`fasco measure`). Namespace paths are placeholders (measurements name only
    /// namespace types); the files, /dev/shm and which namespaces exist are as a live realm's.
    public static func plannedRuntime(for request: SystemRealmRequest, directory: String) -> RunningSystemRealm {
        let own = "\(directory)/planned/ns/"
        var runtime = RunningSystemRealm(
            supervisorPID: 0, directory: directory,
            networkNamespace: request.network == .realm ? NetworkNamespacePin.path(in: directory) : nil,
            ipcNamespace: request.ipc == .realm ? own + "ipc" : nil,
            utsNamespace: request.network == .realm ? own + "uts" : nil,
            pidNamespace: request.sharedPID ? own + "pid" : nil,
            files: [:], shmPath: request.ipc == .realm ? directory + "/shm" : "/dev/shm",
            // Not measured (instance-specific); any absolute path does.
            cgroupParent: request.cgroupParent.isEmpty ? "/planned" : request.cgroupParent,
            addresses: [], userNamespace: request.userNamespace == nil ? nil : own + "user")
        for name in request.files.keys where ["hosts", "resolv.conf", "hostname"].contains(name) {
            runtime.files[name] = "\(directory)/\(name)"
        }
        runtime.complete = true
        return runtime
    }
}
