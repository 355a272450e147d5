import CRIAPI
import CRIServer
import FascoCore
import OCISpec
import RealmCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory holding a container rootfs (with etc/passwd and etc/group) and the pod
/// files a System Realm prepares, plus a ContainerSpecInput that uses them.
struct SpecFixture {
    let directory: String
    var rootfs: String { directory + "/rootfs" }
    var podDirectory: String { directory + "/pod" }

    static let passwd = """
        root:x:0:0:root:/root:/bin/sh
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
        # a comment line
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
        default-user:x:1000:1000::/home/default-user:/bin/sh
        app:x:1001:1002::/app:/bin/sh
        broken-line-without-fields
        """ + "\n"

    static let group = """
        root:x:0:
        daemon:x:1:
        wheel:x:10:root,app
        default-user:x:1000:default-user
        appgroup:x:1002:
        group-defined-in-image:x:50000:default-user
        nogroup:x:65534:
        """ + "\n"

    init(passwd: String? = SpecFixture.passwd, group: String? = SpecFixture.group) throws {
        var template = Array("/var/tmp/fasco-spec-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
            return String(cString: result)
        }
        guard let made else { throw FascoError.internal("mkdtemp failed: \(FileSystem.errnoText)") }
        directory = made
        try FileSystem.makeDirectories(directory + "/rootfs/etc", mode: 0o755)
        try FileSystem.makeDirectories(directory + "/pod/shm", mode: 0o755)
        if let passwd { try write(passwd, to: rootfs + "/etc/passwd") }
        if let group { try write(group, to: rootfs + "/etc/group") }
        try write("fasco-pod\n", to: podDirectory + "/hostname")
        try write(PodFiles.hosts(hostname: "fasco-pod"), to: podDirectory + "/hosts")
        try write("nameserver 10.0.0.10\n", to: podDirectory + "/resolv.conf")
    }

    func write(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        try FileSystem.writeAtomically(Array(text.utf8), to: path, mode: mode)
    }

    func remove() {
        try? FileSystem.removeTree(directory)
    }

    /// A pod with its own network, IPC and UTS namespaces (paths of this process's own
    /// namespaces stand in for the supervisor's) and a container PID namespace.
    func pod(_ configure: (inout PodSandboxConfig) -> Void = { _ in }) -> PodSandboxContext {
        var config = PodSandboxConfig()
        config.metadata = PodSandboxMetadata(name: "pod-name", uid: "pod-uid", namespace: "pod-namespace")
        config.hostname = "fasco-pod"
        configure(&config)
        return PodSandboxContext(
            podID: "pod0123", config: config,
            networkNamespacePath: "/proc/self/ns/net", ipcNamespacePath: "/proc/self/ns/ipc",
            utsNamespacePath: "/proc/self/ns/uts", pidNamespacePath: nil,
            hostsPath: podDirectory + "/hosts", resolvConfPath: podDirectory + "/resolv.conf",
            hostnamePath: podDirectory + "/hostname", shmPath: podDirectory + "/shm")
    }

    /// A container running `/bin/true` in a pod from `pod()`, its PID namespace its own, on a
    /// host named host-name whose runtime could grant every capability (this machine's files
    /// and kernel release).
    func input(_ configure: (inout ContainerConfig) -> Void = { _ in }) -> ContainerSpecInput {
        var config = ContainerConfig()
        config.metadata = ContainerMetadata(name: "ctr", attempt: 0)
        config.image = ImageSpec(image: "docker.io/library/busybox:latest")
        config.command = ["/bin/true"]
        var linux = LinuxContainerConfig()
        var security = LinuxContainerSecurityContext()
        var namespaces = NamespaceOption()
        namespaces.pid = .container
        security.namespaceOptions = namespaces
        linux.securityContext = security
        config.linux = linux
        configure(&config)
        return ContainerSpecInput(containerID: "ctr0123", config: config, pod: pod(), image: nil, rootfs: rootfs,
                                  host: HostFacts(capabilities: RuntimeSpec.Process.Capabilities.allKnownNames, hostname: "host-name",
                                                  kernelRelease: HostFacts.systemKernelRelease()))
    }
}

/// A host made up for a test: the paths it knows, with this machine's answering for the rest
/// (the fixture's pod files and volumes), and a mount table of its own.
struct FakeHostFiles: HostFiles {
    /// mountinfo lines.
    var mountInfo = ""
    /// Device nodes by host path; a directory's are those below it.
    var devices: [String: HostDevice] = [:]
    /// Bind sources that resolve elsewhere (as a symlink would), by host path.
    var links: [String: String] = [:]

    func mounts() throws(FascoError) -> [MountInfo] { MountInfo.parse(mountInfo) }

    func device(at path: String) throws(FascoError) -> HostDevice? {
        if let device = devices[path] { return device }
        return isDirectory(path) ? nil : try LocalHostFiles().device(at: path)
    }

    func devices(under directory: String) throws(FascoError) -> [(relative: String, device: HostDevice)] {
        devices.filter { $0.key.hasPrefix(directory + "/") }.sorted { $0.key < $1.key }
            .map { (String($0.key.dropFirst(directory.count + 1)), $0.value) }
    }

    func bindSource(_ path: String) throws(FascoError) -> String {
        if let link = links[path] { return link }
        return try LocalHostFiles().bindSource(path)
    }

    func exists(_ path: String) -> Bool { devices[path] != nil || isDirectory(path) || FileSystem.exists(path) }

    func isDirectory(_ path: String) -> Bool {
        devices.keys.contains { $0.hasPrefix(path + "/") } || links[path] != nil || FileSystem.isDirectory(path)
    }

    func read(_ path: String, limit: Int) throws(FascoError) -> [UInt8]? { try LocalHostFiles().read(path, limit: limit) }
}

extension ContainerConfig {
    /// The security context, created on first use.
    var security: LinuxContainerSecurityContext {
        get { linux?.securityContext ?? LinuxContainerSecurityContext() }
        set {
            var linux = self.linux ?? LinuxContainerConfig()
            linux.securityContext = newValue
            self.linux = linux
        }
    }

    /// The resources, created on first use.
    var resources: LinuxContainerResources {
        get { linux?.resources ?? LinuxContainerResources() }
        set {
            var linux = self.linux ?? LinuxContainerConfig()
            linux.resources = newValue
            self.linux = linux
        }
    }
}

/// An image config with the given execution parameters.
func imageConfiguration(user: String? = nil, env: [String]? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil,
                        workingDir: String? = nil) -> ImageConfiguration {
    ImageConfiguration(architecture: "amd64", os: "linux",
                       config: .init(user: user, env: env, entrypoint: entrypoint, cmd: cmd, workingDir: workingDir),
                       rootfs: .init(diffIDs: []))
}

/// The error `body` throws; a test failure when it throws none or another type.
func specError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> FascoError? {
    do {
        try body()
        Issue.record("expected a FascoError", sourceLocation: sourceLocation)
        return nil
    } catch let error as FascoError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
