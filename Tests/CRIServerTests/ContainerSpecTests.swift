import CRIAPI
import CRIServer
import FascoCore
import FoundationEssentials
import OCISpec
import RealmCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("ContainerSpecBuilder: process, user, capabilities, namespaces")
struct ContainerSpecTests {
    // MARK: - argv, env, cwd

    @Test("a CRI command replaces the image's entrypoint and cmd; CRI args follow it")
    func commandOverridesImage() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input { $0.command = ["/bin/sh", "-c"]; $0.args = ["echo hi"] }
        input.image = imageConfiguration(entrypoint: ["/entrypoint"], cmd: ["image-cmd"])
        #expect(try ContainerSpecBuilder.build(input).process?.args == ["/bin/sh", "-c", "echo hi"])

        input.config.args = []
        #expect(try ContainerSpecBuilder.build(input).process?.args == ["/bin/sh", "-c"], "a command never takes the image's cmd")
    }

    @Test("without a command: entrypoint + CRI args, else entrypoint + image cmd")
    func imageEntrypointAndCmd() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input { $0.command = [] }
        input.image = imageConfiguration(entrypoint: ["/entrypoint", "-v"], cmd: ["image-cmd"])
        #expect(try ContainerSpecBuilder.build(input).process?.args == ["/entrypoint", "-v", "image-cmd"])
        input.config.args = ["cri-arg"]
        #expect(try ContainerSpecBuilder.build(input).process?.args == ["/entrypoint", "-v", "cri-arg"])
        input.image = imageConfiguration(entrypoint: [""], cmd: ["/bin/sleep", "1"])
        input.config.args = []
        #expect(try ContainerSpecBuilder.build(input).process?.args == ["/bin/sleep", "1"], "Docker's empty entrypoint [\"\"]")
    }

    @Test("nothing to run is INVALID_ARGUMENT")
    func noCommand() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input { $0.command = [] }
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input.image = imageConfiguration(cmd: [])
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input.config.command = ["", "x"]
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input.config.command = ["/bin/echo", "a\u{0}b"]
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
    }

    @Test("env: default PATH, HOSTNAME, image env, then CRI envs replacing by name in place")
    func environment() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input {
            $0.envs = [KeyValue(key: "B", value: "from-cri"), KeyValue(key: "C", value: "x=y")]
        }
        #expect(try ContainerSpecBuilder.build(input).process?.env
            == ["PATH=\(ContainerSpecBuilder.defaultPath)", "HOSTNAME=fasco-pod", "B=from-cri", "C=x=y"])

        input.image = imageConfiguration(env: ["PATH=/image/bin", "A=1", "B=from-image"])
        #expect(try ContainerSpecBuilder.build(input).process?.env
            == ["PATH=/image/bin", "HOSTNAME=fasco-pod", "A=1", "B=from-cri", "C=x=y"])

        input.config.envs = [KeyValue(key: "BAD=KEY", value: "v")]
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input.config.envs = [KeyValue(key: "", value: "v")]
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
    }

    @Test("HOSTNAME is the host's when the pod has no hostname")
    func hostnameFromHost() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input()
        input.pod.config.hostname = ""
        let spec = try ContainerSpecBuilder.build(input)
        #expect(spec.process?.env?.contains("HOSTNAME=host-name") == true)
        #expect(spec.hostname == "host-name")
    }

    @Test("cwd: CRI working_dir, else the image's, else /; relative is INVALID_ARGUMENT; tty is the terminal")
    func workingDirectoryAndTerminal() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input()
        #expect(try ContainerSpecBuilder.build(input).process?.cwd == "/")
        #expect(try ContainerSpecBuilder.build(input).process?.terminal == false)
        input.image = imageConfiguration(workingDir: "/srv/app/")
        #expect(try ContainerSpecBuilder.build(input).process?.cwd == "/srv/app")
        input.config.workingDir = "/work"
        input.config.tty = true
        #expect(try ContainerSpecBuilder.build(input).process?.cwd == "/work")
        #expect(try ContainerSpecBuilder.build(input).process?.terminal == true)
        input.config.workingDir = "relative/dir"
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
    }

    // MARK: - user

    private func user(_ fixture: SpecFixture, image: String? = nil,
                      _ configure: (inout LinuxContainerSecurityContext) -> Void) throws -> RuntimeSpec.Process.User? {
        var input = fixture.input { configure(&$0.security) }
        if let image { input.image = imageConfiguration(user: image) }
        return try ContainerSpecBuilder.build(input).process?.user
    }

    @Test("no user anywhere is root, with root's groups from /etc/group")
    func defaultUser() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let resolved = try user(fixture) { _ in }
        #expect(resolved == .init(uid: 0, gid: 0, additionalGids: [0, 10]))
    }

    @Test("run_as_user takes the primary group from /etc/passwd, 0 for an unknown uid")
    func runAsUser() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        #expect(try user(fixture) { $0.runAsUser = Int64Value(value: 1001) } == .init(uid: 1001, gid: 1002, additionalGids: [1002, 10]))
        #expect(try user(fixture) { $0.runAsUser = Int64Value(value: 4242) } == .init(uid: 4242, gid: 0, additionalGids: [0]))
        #expect(try user(fixture) {
            $0.runAsUser = Int64Value(value: 1001)
            $0.runAsGroup = Int64Value(value: 5)
        } == .init(uid: 1001, gid: 5, additionalGids: [5, 10]))
        #expect(specError { _ = try user(fixture) { $0.runAsUser = Int64Value(value: -1) } }?.code == .invalidArgument)
        #expect(specError { _ = try user(fixture) { $0.runAsUser = Int64Value(value: 1 << 32) } }?.code == .invalidArgument)
    }

    @Test("run_as_username resolves in the rootfs; an unknown name is INVALID_ARGUMENT")
    func runAsUsername() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        #expect(try user(fixture) { $0.runAsUsername = "nobody" } == .init(uid: 65534, gid: 65534, additionalGids: [65534]))
        #expect(try user(fixture) {
            $0.runAsUsername = "app"
            $0.runAsUser = Int64Value(value: 7)
        }?.uid == 1001, "the name wins over the uid")
        let error = specError { _ = try user(fixture) { $0.runAsUsername = "ghost" } }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("ghost") == true)
    }

    @Test("run_as_group without a user is INVALID_ARGUMENT, even when the image has a user")
    func groupWithoutUser() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        #expect(specError { _ = try user(fixture, image: "app") { $0.runAsGroup = Int64Value(value: 1002) } }?.code == .invalidArgument)
    }

    @Test("the image's User: name, uid, name:group, uid:gid; bad forms are INVALID_ARGUMENT")
    func imageUser() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        #expect(try user(fixture, image: "app") { _ in } == .init(uid: 1001, gid: 1002, additionalGids: [1002, 10]))
        #expect(try user(fixture, image: "app:wheel") { _ in } == .init(uid: 1001, gid: 10, additionalGids: [10]))
        #expect(try user(fixture, image: "1000:50000") { _ in } == .init(uid: 1000, gid: 50000, additionalGids: [50000]))
        #expect(try user(fixture, image: "1000:appgroup") { _ in }?.gid == 1002)
        #expect(try user(fixture, image: "app") { $0.runAsUser = Int64Value(value: 0) }?.uid == 0, "CRI wins over the image")
        for bad in ["ghost", "app:ghosts", "1:2:3", ":1", "app:"] {
            #expect(specError { _ = try user(fixture, image: bad) { _ in } }?.code == .invalidArgument, "\(bad)")
        }
    }

    @Test("supplemental groups: Merge adds the user's /etc/group groups (critest's image layout), Strict does not")
    func supplementalGroupsPolicy() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let merged = try user(fixture) {
            $0.runAsUser = Int64Value(value: 1000)
            $0.supplementalGroups = [1234]
        }
        #expect(merged?.uid == 1000 && merged?.gid == 1000)
        #expect(merged?.additionalGids?.sorted() == [1000, 1234, 50000])
        let strict = try user(fixture) {
            $0.runAsUser = Int64Value(value: 1000)
            $0.supplementalGroups = [1234]
            $0.supplementalGroupsPolicy = .strict
        }
        #expect(strict?.additionalGids?.sorted() == [1000, 1234])
        #expect(try user(fixture) { $0.supplementalGroups = [1234, 5678] }?.additionalGids == [0, 10, 1234, 5678])
        #expect(specError { _ = try user(fixture) { $0.supplementalGroups = [-5] } }?.code == .invalidArgument)
    }

    @Test("/etc/passwd symlinked out of the rootfs is not read from the host")
    func passwdSymlinkEscape() throws {
        let fixture = try SpecFixture(passwd: nil, group: nil)
        defer { fixture.remove() }
        // A host file outside the rootfs that would define "evil" if the link were followed.
        try fixture.write("evil:x:4444:4444::/:/bin/sh\n", to: fixture.directory + "/host-passwd")
        try fixture.write("evilgroup:x:4445:root\n", to: fixture.directory + "/host-group")
        #expect(symlink(fixture.directory + "/host-passwd", fixture.rootfs + "/etc/passwd") == 0)
        #expect(symlink("../../../../../../../../../../" + fixture.directory + "/host-group", fixture.rootfs + "/etc/group") == 0)
        #expect(specError { _ = try user(fixture) { $0.runAsUsername = "evil" } }?.code == .invalidArgument)
        #expect(try user(fixture) { $0.runAsUser = Int64Value(value: 4444) } == .init(uid: 4444, gid: 0, additionalGids: [0]))
        #expect(try user(fixture) { _ in } == .init(uid: 0, gid: 0, additionalGids: [0]), "evilgroup's membership is not seen")
    }

    @Test("a rootfs without /etc/passwd: numeric users work, names do not")
    func noPasswd() throws {
        let fixture = try SpecFixture(passwd: nil, group: nil)
        defer { fixture.remove() }
        #expect(try user(fixture) { $0.runAsUser = Int64Value(value: 1000) } == .init(uid: 1000, gid: 0, additionalGids: [0]))
        #expect(specError { _ = try user(fixture) { $0.runAsUsername = "root" } }?.code == .invalidArgument)
    }

    // MARK: - capabilities

    private func capabilities(_ fixture: SpecFixture, add: [String] = [], drop: [String] = [], ambient: [String] = [])
        throws -> RuntimeSpec.Process.Capabilities?
    {
        let input = fixture.input {
            $0.security.capabilities = Capability(addCapabilities: add, dropCapabilities: drop, addAmbientCapabilities: ambient)
        }
        return try ContainerSpecBuilder.build(input).process?.capabilities
    }

    @Test("the default capability set is containerd's, in bounding, effective and permitted; inheritable empty")
    func defaultCapabilities() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let caps = try capabilities(fixture)
        let expected = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
                        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
                        "CAP_AUDIT_WRITE"]
        #expect(caps?.bounding == expected)
        #expect(caps?.effective == expected)
        #expect(caps?.permitted == expected)
        #expect(caps?.inheritable == nil)
        #expect(caps?.ambient == nil)
    }

    @Test("add and drop, with or without CAP_, any case")
    func addDrop() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let caps = try capabilities(fixture, add: ["NET_ADMIN", "cap_sys_time"], drop: ["NET_RAW", "CAP_KILL"])
        #expect(caps?.bounding?.contains("CAP_NET_ADMIN") == true)
        #expect(caps?.bounding?.contains("CAP_SYS_TIME") == true)
        #expect(caps?.bounding?.contains("CAP_NET_RAW") == false)
        #expect(caps?.bounding?.contains("CAP_KILL") == false)
        #expect(caps?.bounding?.count == 14)
    }

    @Test("ALL in add gives every capability, ALL in drop none; named ones apply after")
    func all() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let known = RuntimeSpec.Process.Capabilities.allKnownNames
        #expect(Set(try capabilities(fixture, add: ["ALL"])?.bounding ?? []) == Set(known))
        #expect(Set(try capabilities(fixture, add: ["ALL"], drop: ["CHOWN"])?.bounding ?? []) == Set(known).subtracting(["CAP_CHOWN"]))
        #expect(try capabilities(fixture, drop: ["ALL"])?.bounding == [])
        #expect(try capabilities(fixture, add: ["KILL"], drop: ["all"])?.bounding == ["CAP_KILL"])
    }

    @Test("an unknown capability is INVALID_ARGUMENT")
    func unknownCapability() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        #expect(specError { _ = try capabilities(fixture, add: ["FLY"]) }?.code == .invalidArgument)
        #expect(specError { _ = try capabilities(fixture, drop: ["CAP_"]) }?.code == .invalidArgument)
        #expect(specError { _ = try capabilities(fixture, ambient: ["NOPE"]) }?.code == .invalidArgument)
    }

    @Test("only capabilities the runtime holds are granted: privileged and ALL get those, a named one is FAILED_PRECONDITION")
    func availableCapabilities() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let available = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
        var input = fixture.input()
        input.host.capabilities = available
        #expect(try ContainerSpecBuilder.build(input).process?.capabilities?.bounding == ["CAP_CHOWN", "CAP_KILL"])
        input.config.security.capabilities = Capability(addCapabilities: ["ALL"])
        #expect(try ContainerSpecBuilder.build(input).process?.capabilities?.bounding == ["CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"])
        input.config.security.capabilities = Capability(addCapabilities: ["SYS_RESOURCE"])
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .failedPrecondition)
        input.config.security.capabilities = Capability(addAmbientCapabilities: ["SYS_RESOURCE"])
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .failedPrecondition)
        input.config.security.capabilities = Capability(dropCapabilities: ["SYS_RESOURCE"])
        #expect(try ContainerSpecBuilder.build(input).process?.capabilities?.bounding == ["CAP_CHOWN", "CAP_KILL"], "dropping one not held is fine")

        input.config.security = LinuxContainerSecurityContext(privileged: true, namespaceOptions: NamespaceOption(pid: .container))
        input.pod.config.linux = LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(privileged: true))
        #expect(try ContainerSpecBuilder.build(input).process?.capabilities?.bounding == available)
    }

    @Test("ambient capabilities are raised into inheritable and ambient (and held)")
    func ambient() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let caps = try capabilities(fixture, drop: ["ALL"], ambient: ["NET_BIND_SERVICE"])
        #expect(caps?.ambient == ["CAP_NET_BIND_SERVICE"])
        #expect(caps?.inheritable == ["CAP_NET_BIND_SERVICE"])
        #expect(caps?.permitted == ["CAP_NET_BIND_SERVICE"])
        #expect(caps?.bounding == ["CAP_NET_BIND_SERVICE"])
    }

    // MARK: - privileged

    @Test("privileged: every capability and device, no masked or read-only paths, no seccomp, writable sysfs")
    func privileged() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input {
            $0.security.privileged = true
            $0.security.seccomp = SecurityProfile(profileType: .runtimeDefault)
            $0.security.capabilities = Capability(dropCapabilities: ["ALL"])
        }
        input.pod.config.linux = LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(privileged: true))
        let spec = try ContainerSpecBuilder.build(input)
        #expect(spec.process?.capabilities?.bounding == RuntimeSpec.Process.Capabilities.allKnownNames)
        #expect(spec.linux?.maskedPaths == nil)
        #expect(spec.linux?.readonlyPaths == nil)
        #expect(spec.linux?.seccomp == nil)
        #expect(spec.linux?.resources?.devices == [.init(allow: true, access: "rwm")])
        #expect(spec.linux?.devices?.contains { $0.path == "/dev/null" && $0.type == "c" && $0.major == 1 && $0.minor == 3 } == true)
        #expect(spec.linux?.devices?.contains { $0.path.hasPrefix("/dev/pts/") } == false)
        let sys = spec.mounts?.first { $0.destination == "/sys" }
        #expect(sys?.options?.contains("rw") == true)
        #expect(spec.mounts?.first { $0.destination == "/sys/fs/cgroup" }?.options?.contains("rw") == true)
    }

    @Test("a privileged container in an unprivileged pod is INVALID_ARGUMENT")
    func privilegedNeedsPrivilegedPod() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let input = fixture.input { $0.security.privileged = true }
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
    }

    // MARK: - security context

    @Test("readonly_rootfs, no_new_privs, masked and read-only paths (defaults, and CRI lists override)")
    func securityContext() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input()
        var spec = try ContainerSpecBuilder.build(input)
        #expect(spec.root == RuntimeSpec.Root(path: fixture.rootfs, readonly: false))
        #expect(spec.process?.noNewPrivileges == false)
        #expect(spec.linux?.maskedPaths == ContainerSpecBuilder.defaultMaskedPaths)
        #expect(spec.linux?.maskedPaths?.contains("/proc/kcore") == true)
        #expect(spec.linux?.readonlyPaths == ContainerSpecBuilder.defaultReadonlyPaths)
        #expect(spec.linux?.readonlyPaths?.contains("/proc/sys") == true)

        input.config.security.readonlyRootfs = true
        input.config.security.noNewPrivs = true
        input.config.security.maskedPaths = ["/bin/ls"]
        input.config.security.readonlyPaths = ["/tmp/"]
        spec = try ContainerSpecBuilder.build(input)
        #expect(spec.root?.readonly == true)
        #expect(spec.process?.noNewPrivileges == true)
        #expect(spec.linux?.maskedPaths == ["/bin/ls"])
        #expect(spec.linux?.readonlyPaths == ["/tmp"])

        input.config.security.maskedPaths = ["relative"]
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
    }

    // MARK: - namespaces

    @Test("pod namespaces are joined by path; mount and (CONTAINER) pid are new; hostname is the pod's")
    func podNamespaces() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let spec = try ContainerSpecBuilder.build(fixture.input())
        #expect(spec.linux?.namespaces == [
            .init(type: .pid), .init(type: .network, path: "/proc/self/ns/net"), .init(type: .ipc, path: "/proc/self/ns/ipc"),
            .init(type: .uts, path: "/proc/self/ns/uts"), .init(type: .mount),
        ])
        #expect(spec.hostname == "fasco-pod")
        #expect(spec.linux?.cgroupsPath == nil, "the backend places the container (SoftwareBackend.runnable)")
    }

    @Test("host network, IPC and UTS: no entries, no hostname, the host's /dev/shm")
    func hostNamespaces() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input()
        input.pod.networkNamespacePath = nil
        input.pod.ipcNamespacePath = nil
        input.pod.utsNamespacePath = nil
        let spec = try ContainerSpecBuilder.build(input)
        #expect(spec.linux?.namespaces == [.init(type: .pid), .init(type: .mount)])
        #expect(spec.hostname == nil)
        #expect(spec.mounts?.first { $0.destination == "/dev/shm" }?.source == "/dev/shm")
    }

    @Test("PID modes: POD joins the pod's namespace, NODE the host's, TARGET the target's")
    func pidModes() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input { $0.security.namespaceOptions?.pid = .pod }
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .failedPrecondition)
        input.pod.pidNamespacePath = "/proc/1/ns/pid"
        #expect(try ContainerSpecBuilder.build(input).linux?.namespaces?.first == .init(type: .pid, path: "/proc/1/ns/pid"))

        input.config.security.namespaceOptions?.pid = .node
        #expect(try ContainerSpecBuilder.build(input).linux?.namespaces?.contains { $0.type == .pid } == false)

        input.config.security.namespaceOptions?.pid = .target
        input.config.security.namespaceOptions?.targetID = "other"
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input.targetPIDNamespacePath = "/proc/77/ns/pid"
        #expect(try ContainerSpecBuilder.build(input).linux?.namespaces?.first == .init(type: .pid, path: "/proc/77/ns/pid"))

        input.config.security.namespaceOptions?.pid = .unrecognized(9)
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
    }

    @Test("without container namespace options the pod's apply")
    func podOptionsFallback() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input { $0.security.namespaceOptions = nil }
        input.pod.config.linux = LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(
            namespaceOptions: NamespaceOption(pid: .node)))
        #expect(try ContainerSpecBuilder.build(input).linux?.namespaces?.contains { $0.type == .pid } == false)
    }

    @Test("user namespace mode POD: the pod's mappings, joining the pod's namespace when it has one")
    func userNamespaces() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let mapping = [IDMapping(hostID: 1000, containerID: 0, length: 100000)]
        var input = fixture.input {
            $0.security.namespaceOptions?.usernsOptions = UserNamespace(mode: .pod, uids: mapping, gids: mapping)
        }
        var spec = try ContainerSpecBuilder.build(input)
        #expect(spec.linux?.namespaces?.first == .init(type: .user))
        #expect(spec.linux?.uidMappings == [.init(containerID: 0, hostID: 1000, size: 100000)])
        #expect(spec.linux?.gidMappings == [.init(containerID: 0, hostID: 1000, size: 100000)])
        input.pod.userNamespacePath = "/proc/55/ns/user"
        spec = try ContainerSpecBuilder.build(input)
        #expect(spec.linux?.namespaces?.first == .init(type: .user, path: "/proc/55/ns/user"))
        // Joining the pod's namespace takes the pod's mappings, not others.
        input.pod.config.linux = LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(
            namespaceOptions: NamespaceOption(usernsOptions: UserNamespace(mode: .pod, uids: mapping, gids: mapping))))
        #expect(try ContainerSpecBuilder.build(input).linux?.uidMappings == [.init(containerID: 0, hostID: 1000, size: 100000)])
        let other = [IDMapping(hostID: 5000, containerID: 0, length: 100000)]
        var differing = input
        differing.config.security.namespaceOptions?.usernsOptions = UserNamespace(mode: .pod, uids: other, gids: other)
        #expect(specError { _ = try ContainerSpecBuilder.build(differing) }?.code == .invalidArgument)

        input.config.security.namespaceOptions?.usernsOptions = UserNamespace(mode: .node)
        spec = try ContainerSpecBuilder.build(input)
        #expect(spec.linux?.namespaces?.contains { $0.type == .user } == false)
        #expect(spec.linux?.uidMappings == nil)
    }

    @Test("user namespace options critest refuses are INVALID_ARGUMENT")
    func badUserNamespaces() throws {
        let two = [IDMapping(hostID: 1000, containerID: 0, length: 100000), IDMapping(hostID: 2000, containerID: 0, length: 100000)]
        let notZero = [IDMapping(hostID: 1000, containerID: 1, length: 100000)]
        let overflow = [IDMapping(hostID: UInt32.max, containerID: 0, length: 2)]
        let bad = [
            UserNamespace(mode: .pod, uids: two, gids: two),
            UserNamespace(mode: .pod, uids: notZero, gids: notZero),
            UserNamespace(mode: .pod, uids: overflow, gids: overflow),
            UserNamespace(mode: .pod),
            UserNamespace(mode: .container),
            UserNamespace(mode: .target),
            UserNamespace(mode: .unrecognized(7)),
        ]
        for options in bad {
            #expect(specError { _ = try ContainerSpecBuilder.userNamespaceMappings(options) }?.code == .invalidArgument)
        }
        #expect(try ContainerSpecBuilder.userNamespaceMappings(nil) == nil)
    }

    @Test("pod sysctls are applied, unless they would change a namespace shared with the host")
    func sysctls() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input()
        input.pod.config.linux = LinuxPodSandboxConfig(sysctls: ["kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1"])
        #expect(try ContainerSpecBuilder.build(input).linux?.sysctl == ["kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1"])
        input.pod.networkNamespacePath = nil
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input.pod.config.linux?.sysctls = ["fs.mqueue.msg_max": "100"]
        input.pod.ipcNamespacePath = nil
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input.pod.config.linux?.sysctls = ["kernel.shm_rmid_forced\nx": "1"]
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
    }

    // MARK: - annotations and validation

    @Test("CRI annotations are copied; the io.kubernetes.cri keys are Fasco's")
    func annotations() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input {
            $0.annotations = ["user.example/a": "1", SpecAnnotation.sandboxID: "spoofed"]
        }
        input.config.image?.userSpecifiedImage = "busybox"
        let annotations = try ContainerSpecBuilder.build(input).annotations
        #expect(annotations?["user.example/a"] == "1")
        #expect(annotations?[SpecAnnotation.sandboxID] == "pod0123")
        #expect(annotations?[SpecAnnotation.containerType] == "container")
        #expect(annotations?[SpecAnnotation.containerName] == "ctr")
        #expect(annotations?[SpecAnnotation.sandboxName] == "pod-name")
        #expect(annotations?[SpecAnnotation.sandboxNamespace] == "pod-namespace")
        #expect(annotations?[SpecAnnotation.sandboxUID] == "pod-uid")
        #expect(annotations?[SpecAnnotation.imageName] == "busybox")
    }

    @Test("malformed identities and unsupported features are refused, not crashed on")
    func validation() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        for id in ["", "../escape", "a/b", ".hidden", String(repeating: "x", count: 129), "sp ace"] {
            var input = fixture.input()
            input.containerID = id
            #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument, "\(id)")
        }
        var input = fixture.input { $0.metadata = nil }
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input = fixture.input()
        input.rootfs = "relative/rootfs"
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
        input = fixture.input { $0.cdiDevices = [CDIDevice(name: "vendor.com/gpu=0")] }
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .unimplemented)
        input = fixture.input { $0.security.apparmor = SecurityProfile(profileType: .localhost, localhostRef: "p") }
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .failedPrecondition)
        input = fixture.input()
        input.pod.config.hostname = "bad host"
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .invalidArgument)
    }

    @Test("the spec encodes as runtime-spec JSON that decodes to the same value")
    func jsonRoundTrip() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let spec = try ContainerSpecBuilder.build(fixture.input { $0.security.seccomp = SecurityProfile() })
        #expect(spec.ociVersion == ContainerSpecBuilder.ociVersion)
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(RuntimeSpec.self, from: data) == spec)
    }
}
