import FascoCore
import OCISpec
import RealmCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("software backend: where pods go under each cgroup driver")
struct SystemdPlacementTests {
    private func backend(_ driver: OCIRuntime.CgroupDriver, root: String) throws -> SoftwareBackend {
        try makeTestBackend(root: root, cgroupDriver: driver, supervisorBinary: "/bin/false", cgroupRoot: "/fasco-root")
    }

    private let realm = SystemRealm(metadata: SystemRealmMetadata(name: "p", uid: "u", namespace: "n", attempt: 0), createdAt: 1)

    private func request(parent: String) -> SystemRealmRequest {
        SystemRealmRequest(hostname: "p", cgroupParent: parent, owner: .init(name: "p", namespace: "n", uid: "u"))
    }

    @Test("cgroupfs: the pod's cgroup_parent path, else <cgroup_root>/<ID>; slices and relative paths are refused")
    func cgroupfs() throws {
        let root = try makeTemporaryDirectory("fasco-placement")
        defer { try? FileSystem.removeTree(root) }
        let backend = try backend(.cgroupfs, root: root)
        #expect(try backend.podPlacement(realm, request: request(parent: "")) == .init(path: "/fasco-root/\(realm.id)", slice: nil))
        #expect(try backend.podPlacement(realm, request: request(parent: "/kubepods/besteffort/pod1")).path == "/kubepods/besteffort/pod1")
        for bad in ["kubepods-besteffort-pod1.slice", "kubepods/pod1", "/kubepods/../etc"] {
            #expect(throws: FascoError.self, "\(bad)") { try backend.podPlacement(realm, request: request(parent: bad)) }
        }
        let pod = RunningSystemRealm(supervisorPID: 0, directory: root, networkNamespace: nil, ipcNamespace: nil, utsNamespace: nil,
                                     pidNamespace: nil, files: [:], shmPath: "/dev/shm", cgroupParent: "/fasco-root/pod1", addresses: [])
        #expect(try backend.containerCgroupPath(pod: pod, containerID: "c1") == "/fasco-root/pod1/c1")
    }

    @Test("systemd: the pod's slice, else fasco-pod<ID>.slice; container scopes inside it; paths are refused")
    func systemd() throws {
        let root = try makeTemporaryDirectory("fasco-placement")
        defer { try? FileSystem.removeTree(root) }
        let backend = try backend(.systemd, root: root)
        #expect(try backend.podPlacement(realm, request: request(parent: "kubepods-besteffort-pod1.slice")) == .init(
            path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice", slice: "kubepods-besteffort-pod1.slice"))
        #expect(try backend.podPlacement(realm, request: request(parent: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice")) == .init(
            path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice", slice: "kubepods-besteffort-pod1.slice"),
            "kubelet's form: the slice's cgroup path")
        #expect(try backend.podPlacement(realm, request: request(parent: "/test.slice")) == .init(path: "/test.slice", slice: "test.slice"))
        #expect(try backend.podPlacement(realm, request: request(parent: "")) == .init(
            path: "/fasco.slice/fasco-pod\(realm.id).slice", slice: "fasco-pod\(realm.id).slice"))
        for bad in ["/kubepods/besteffort/pod1", "kubepods", "-kubepods.slice", "kube--pods.slice", "a/b.slice",
                    "/kubepods-besteffort-pod1.slice", "/other.slice/kubepods-pod1.slice", "/", "/-.slice/"] {
            #expect(throws: FascoError.self, "\(bad)") { try backend.podPlacement(realm, request: request(parent: bad)) }
        }
        var pod = RunningSystemRealm(supervisorPID: 0, directory: root, networkNamespace: nil, ipcNamespace: nil, utsNamespace: nil,
                                     pidNamespace: nil, files: [:], shmPath: "/dev/shm",
                                     cgroupParent: "/kubepods.slice/kubepods-pod1.slice", addresses: [])
        pod.systemdSlice = "kubepods-pod1.slice"
        #expect(try backend.containerCgroupPath(pod: pod, containerID: "c1") == "/kubepods.slice/kubepods-pod1.slice/fasco-c1.scope")
        #expect(SoftwareBackend.supervisorScope(of: realm.id) == "fasco-realm-\(realm.id).scope")
    }

    @Test("unit names: systemd's characters and suffix, at most 255 bytes")
    func unitNames() throws {
        try SystemdManager.validateUnitName("fasco-realm-0123abcd.scope", suffix: ".scope")
        try SystemdManager.validateUnitName("a_b:c@d.scope", suffix: ".scope")
        for bad in [".scope", "a b.scope", "a/b.scope", "a.slice", String(repeating: "a", count: 250) + ".scope", "ä.scope"] {
            #expect(throws: FascoError.self, "\(bad)") { try SystemdManager.validateUnitName(bad, suffix: ".scope") }
        }
    }

    @Test("the systemd-managed cgroup of a process: name=systemd on v1, the unified line otherwise; nil when it is gone")
    func systemdCgroupOfProcess() throws {
        let text = try #require(try FileSystem.read("/proc/self/cgroup")).map { Character(UnicodeScalar($0)) }
        let lines = String(text).split(separator: "\n")
        let expected = lines.first { $0.contains(":name=systemd:") }.map { String($0.split(separator: ":", maxSplits: 2)[2]) }
            ?? lines.first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        #expect(SystemdManager.systemdCgroup(of: getpid()) == expected)
        #expect(SystemdManager.systemdCgroup(of: 0x3FFF_FFF0) == nil)
    }

    @Test("a pod keeps its driver: after a restart with the other one its containers are FAILED_PRECONDITION")
    func driverMismatch() async throws {
        let root = try makeTemporaryDirectory("fasco-placement")
        defer { try? FileSystem.removeTree(root) }
        for (started, now) in [(OCIRuntime.CgroupDriver.systemd, OCIRuntime.CgroupDriver.cgroupfs), (.cgroupfs, .systemd)] {
            let backend = try backend(now, root: root)
            var record = RunningSystemRealm(supervisorPID: 0, directory: root, networkNamespace: nil, ipcNamespace: nil, utsNamespace: nil,
                                            pidNamespace: nil, files: [:], shmPath: "/dev/shm", cgroupParent: "/x.slice", addresses: [])
            record.systemdSlice = started == .systemd ? "x.slice" : nil
            try FileSystem.makeDirectories(backend.directory(of: realm.id), mode: 0o700)
            try backend.saveRuntime(record, for: realm.id)
            let container = ContainerRealm(systemRealm: realm.id, metadata: .init(name: "c", attempt: 0), image: "i", imageID: "i", createdAt: 1)
            let bundle = root + "/bundle-\(started)"
            try FileSystem.makeDirectories(bundle, mode: 0o700)
            let error = await #expect(throws: FascoError.self) {
                try await backend.createContainer(container, spec: RuntimeSpec(ociVersion: "1.0.2"), bundle: bundle)
            }
            #expect(error?.code == .failedPrecondition)
            #expect(!FileSystem.exists(bundle + "/config.json"))

            record.systemdSlice = now == .systemd ? "x.slice" : nil
            try backend.saveRuntime(record, for: realm.id)
            try await backend.createContainer(container, spec: RuntimeSpec(ociVersion: "1.0.2"), bundle: bundle)
            #expect(FileSystem.exists(bundle + "/config.json"))
        }
    }
}
