import CRIAPI
import CRIServer
import FascoCore
import FoundationEssentials
import OCISpec
import RealmCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs a spec from `ContainerSpecBuilder` with Debian's runc: proof that runc accepts it and
/// applies what it says. Needs root, /usr/bin/runc and busybox.
@Suite("ContainerSpecBuilder with runc")
struct ContainerSpecRuncTests {
    static let runc = "/usr/bin/runc"
    static let busybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileSystem.exists($0) }
    static let available = getuid() == 0 && FileSystem.exists(runc) && busybox != nil

    @Test("runc runs the spec: user and groups, env, cwd, mounts, devices, limits, seccomp, capabilities",
          .enabled(if: available, "needs root, runc and busybox"))
    func runcRun() async throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        try assembleBusybox(in: fixture.rootfs)
        try FileSystem.makeDirectories(fixture.rootfs + "/work", mode: 0o755)
        let volume = fixture.directory + "/volume"
        try FileSystem.makeDirectories(volume, mode: 0o755)
        try fixture.write("hello from the host\n", to: volume + "/greeting")

        let script = """
            echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
            echo "cwd=$(pwd)"
            echo "foo=$FOO"
            echo "path=$PATH"
            echo "hostname-env=$HOSTNAME"
            grep -E '^(NoNewPrivs|Seccomp|CapBnd):' /proc/self/status
            echo "oom=$(cat /proc/self/oom_score_adj)"
            echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
            echo "resolv=$(cat /etc/resolv.conf)"
            echo "greeting=$(cat /data/greeting)"
            echo x > /dev/fasco-null && echo "device=ok"
            touch /data/denied 2>/dev/null || echo "volume=read-only"
            touch /tmp-rootfs-write 2>/dev/null || echo "rootfs=read-only"
            """
        var input = hostPodInput(fixture) {
            $0.command = ["/bin/sh", "-c", script]
            $0.workingDir = "/work"
            $0.envs = [KeyValue(key: "FOO", value: "bar baz")]
            $0.mounts = [Mount(containerPath: "/data", hostPath: volume, readonly: true)]
            $0.devices = [Device(containerPath: "/dev/fasco-null", hostPath: "/dev/null", permissions: "rw")]
            $0.resources = LinuxContainerResources(memoryLimitInBytes: 64 << 20, oomScoreAdj: 500)
            $0.security.runAsUser = Int64Value(value: 1001)
            $0.security.supplementalGroups = [1234]
            $0.security.readonlyRootfs = true
            $0.security.noNewPrivs = true
            $0.security.seccomp = SecurityProfile(profileType: .runtimeDefault)
            $0.security.capabilities = Capability(addCapabilities: ["KILL"], dropCapabilities: ["ALL"])
        }
        input.image = imageConfiguration(env: ["PATH=/bin", "FOO=from-image"])

        let (status, output, errors) = try await run(input, in: fixture)
        #expect(status == 0, "runc: \(errors)")

        let lines = keyValues(output)
        let identity = lines["uid"] ?? ""
        #expect(identity.hasPrefix("1001 gid=1002 groups="), "\(output)")
        let groups = Set(identity.split(separator: "=").last?.split(separator: " ").map(String.init) ?? [])
        #expect(groups == ["1002", "10", "1234"], "primary, /etc/group membership (wheel), supplemental")
        #expect(lines["cwd"] == "/work")
        #expect(lines["foo"] == "bar baz")
        #expect(lines["path"] == "/bin")
        #expect(lines["hostname-env"] == "fasco-pod")
        #expect(lines["NoNewPrivs"] == "1")
        #expect(lines["Seccomp"] == "2")
        #expect(lines["CapBnd"] == "0000000000000020", "only CAP_KILL (bit 5)")
        #expect(lines["oom"] == "500")
        #expect(lines["memory"] == String(64 << 20))
        #expect(lines["resolv"] == "nameserver 10.0.0.10")
        #expect(lines["greeting"] == "hello from the host")
        #expect(lines["device"] == "ok")
        #expect(lines["volume"] == "read-only")
        #expect(lines["rootfs"] == "read-only")
    }

    /// Builds the spec of `input`, completes it as the software backend does (placed under
    /// /fasco-spec-test, oom_score_adj raised to this process's own), writes it into a bundle and
    /// `runc run`s it (cleaning up the container and its cgroups afterwards): the exit status,
    /// stdout and stderr.
    private func run(_ input: ContainerSpecInput, in fixture: SpecFixture) async throws -> (Int32, String, String) {
        let pod = RunningSystemRealm(supervisorPID: 0, directory: fixture.podDirectory, networkNamespace: nil, ipcNamespace: nil,
                                     utsNamespace: nil, pidNamespace: nil, files: [:], shmPath: "/dev/shm",
                                     cgroupParent: "/fasco-spec-test", addresses: [])
        let spec = try SoftwareBackend.runnable(ContainerSpecBuilder.build(input), containerID: input.containerID, pod: pod,
                                                oomScoreAdjFloor: SoftwareBackend.daemonOOMScoreAdj())
        let bundle = fixture.directory + "/bundle"
        try FileSystem.makeDirectories(bundle, mode: 0o700)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(spec)
        try FileSystem.writeAtomically(Array(json), to: bundle + "/config.json")

        let state = fixture.directory + "/state"
        let id = input.containerID
        defer {
            _ = try? spawnAndWait([Self.runc, "--root", state, "delete", "--force", id],
                                  stdout: "/dev/null", stderr: "/dev/null")
            for controller in (try? FileSystem.list("/sys/fs/cgroup")) ?? [] {
                rmdir("/sys/fs/cgroup/\(controller)/fasco-spec-test/\(id)")
                rmdir("/sys/fs/cgroup/\(controller)/fasco-spec-test")
            }
        }
        let stdout = fixture.directory + "/stdout", stderr = fixture.directory + "/stderr"
        let status = try await BlockingWork.run { () throws(FascoError) -> Int32 in
            try spawnAndWait([Self.runc, "--root", state, "run", "--bundle", bundle, id], stdout: stdout, stderr: stderr)
        }
        let output = (try FileSystem.read(stdout)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let errors = (try FileSystem.read(stderr)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return (status, output, errors)
    }

    /// `key=value` and `Key:<tab>value` lines.
    private func keyValues(_ output: String) -> [String: String] {
        var lines: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: line.contains("=") ? "=" : ":", maxSplits: 1)
            if parts.count == 2 { lines[String(parts[0])] = trimmed(parts[1]) }
        }
        return lines
    }

    /// A container in the host's network, IPC and UTS namespaces.
    private func hostPodInput(_ fixture: SpecFixture, _ configure: (inout ContainerConfig) -> Void) -> ContainerSpecInput {
        var input = fixture.input(configure)
        input.pod.networkNamespacePath = nil
        input.pod.ipcNamespacePath = nil
        input.pod.utsNamespacePath = nil
        input.containerID = "fasco-spec-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        input.host.capabilities = HostFacts.effectiveCapabilities()  // this process's own, as the daemon's
        return input
    }

    @Test("runc runs a privileged spec with a recursive read-only mount",
          .enabled(if: available, "needs root, runc and busybox"))
    func runcPrivilegedRecursiveReadOnly() async throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        try assembleBusybox(in: fixture.rootfs)
        let volume = fixture.directory + "/volume"
        try FileSystem.makeDirectories(volume + "/tmpfs", mode: 0o755)
        guard mount("fasco-test", volume + "/tmpfs", "tmpfs", 0, nil) == 0 else {
            throw FascoError.internal("mount tmpfs: \(FileSystem.errnoText)")
        }
        defer { umount2(volume + "/tmpfs", Int32(MNT_DETACH)) }
        let script = """
            touch /plain/tmpfs/file 2>/dev/null && echo "plain=writable"
            touch /rro/tmpfs/file 2>/dev/null || echo "rro=read-only"
            grep -E '^(Seccomp|CapBnd):' /proc/self/status
            grep -q ' /sys sysfs rw' /proc/mounts && echo "sys=rw"
            """
        var input = hostPodInput(fixture) {
            $0.command = ["/bin/sh", "-c", script]
            $0.security.privileged = true
            $0.security.seccomp = SecurityProfile(profileType: .runtimeDefault)
            $0.mounts = [Mount(containerPath: "/plain", hostPath: volume, readonly: true),
                         Mount(containerPath: "/rro", hostPath: volume, readonly: true, recursiveReadOnly: true)]
        }
        input.pod.config.linux = LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(privileged: true))
        let (status, output, errors) = try await run(input, in: fixture)
        #expect(status == 0, "runc: \(errors)")
        let lines = keyValues(output)
        #expect(lines["plain"] == "writable", "a plain read-only bind leaves submounts writable: \(output)")
        #expect(lines["rro"] == "read-only")
        #expect(lines["Seccomp"] == "0")
        #expect(lines["CapBnd"] != "0000000000000000" && lines["CapBnd"] != nil)
        #expect(lines["sys"] == "rw")
    }

    /// Debian's static busybox as /bin/busybox with the applets the script uses.
    private func assembleBusybox(in rootfs: String) throws {
        guard let source = Self.busybox, let binary = try FileSystem.read(source) else {
            throw FascoError.failedPrecondition("busybox is not installed")
        }
        try FileSystem.makeDirectories(rootfs + "/bin", mode: 0o755)
        try FileSystem.writeAtomically(binary, to: rootfs + "/bin/busybox", mode: 0o755)
        for applet in ["sh", "id", "pwd", "cat", "echo", "grep", "touch"] {
            guard symlink("busybox", rootfs + "/bin/" + applet) == 0 else {
                throw FascoError.internal("symlink \(applet): \(FileSystem.errnoText)")
            }
        }
    }
}

/// `text` without surrounding spaces, tabs and newlines.
func trimmed(_ text: Substring) -> String {
    String(text.drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed())
}

/// posix_spawn `argv` with stdout and stderr sent to files; its exit status (128+signal when
/// killed). Killed after `timeout` so a hung runtime fails the test instead of hanging it.
func spawnAndWait(_ argv: [String], stdout: String, stderr: String, timeout: Duration = .seconds(120)) throws(FascoError) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var arguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { arguments.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, argv[0], &actions, nil, &arguments, environ)
    guard spawned == 0 else { throw .internal("posix_spawn \(argv[0]): \(String(cString: strerror(spawned)))") }
    let deadline = ContinuousClock.now + timeout
    var status: Int32 = 0
    while true {
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { break }
        if result < 0 && errno != EINTR { throw .internal("waitpid: \(FileSystem.errnoText)") }
        if ContinuousClock.now >= deadline {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            throw FascoError(.deadlineExceeded, "\(argv.joined(separator: " ")) did not finish in \(timeout)")
        }
        usleep(5_000)
    }
    let signal = status & 0x7F
    return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
}
