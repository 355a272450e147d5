import FascoCore
import OCISpec
import RealmCore
@testable import SoftwareRealms
import Testing

@Suite("SoftwareBackend: what it adds to a container's spec")
struct SoftwareBackendPlacementTests {
    func pod(cgroupParent: String = "/fasco/pod0123", slice: String? = nil) -> RunningSystemRealm {
        var pod = RunningSystemRealm(supervisorPID: 1, directory: "/run/fasco/realms/pod0123", networkNamespace: nil, ipcNamespace: nil,
                                     utsNamespace: nil, pidNamespace: nil, files: [:], shmPath: "/dev/shm", cgroupParent: cgroupParent,
                                     addresses: [])
        pod.systemdSlice = slice
        return pod
    }

    @Test("cgroupsPath: cgroupfs <pod cgroup>/<ID>; systemd <pod slice>:fasco:<ID>; a bad parent or slice is INVALID_ARGUMENT")
    func cgroupsPath() throws {
        #expect(try SoftwareBackend.cgroupsPath(containerID: "ctr0123", pod: pod()) == "/fasco/pod0123/ctr0123")
        #expect(try SoftwareBackend.cgroupsPath(containerID: "ctr0123", pod: pod(cgroupParent: "/")) == "/ctr0123")
        let slice = "kubepods-besteffort-pod0123.slice"
        let systemd = pod(cgroupParent: try PodCgroup.systemdSlicePath(slice), slice: slice)
        #expect(try SoftwareBackend.cgroupsPath(containerID: "ctr0123", pod: systemd) == "kubepods-besteffort-pod0123.slice:fasco:ctr0123")

        for bad in ["kubepods", "a:b.slice", "/kubepods.slice"] {
            let error = #expect(throws: FascoError.self, "\(bad)") { try SoftwareBackend.cgroupsPath(containerID: "ctr0123", pod: pod(slice: bad)) }
            #expect(error?.code == .invalidArgument)
        }
        for bad in ["/fasco/../escape", "/fasco/./pod", "relative"] {
            let error = #expect(throws: FascoError.self, "\(bad)") { try SoftwareBackend.cgroupsPath(containerID: "ctr0123", pod: pod(cgroupParent: bad)) }
            #expect(error?.code == .invalidArgument)
        }
        #expect(throws: FascoError.self) { try SoftwareBackend.cgroupsPath(containerID: "a:b", pod: systemd) }
    }

    @Test("runnable: placed in the pod's cgroup, oom_score_adj raised to the floor, nothing else touched")
    func runnable() throws {
        var spec = RuntimeSpec(ociVersion: "1.0.2", process: .init(user: .init(uid: 0, gid: 0), args: ["/bin/true"], cwd: "/", oomScoreAdj: -998),
                               hostname: "h", linux: .init(namespaces: [.init(type: .mount)]))
        var placed = try SoftwareBackend.runnable(spec, containerID: "c1", pod: pod(), oomScoreAdjFloor: -500)
        #expect(placed.linux?.cgroupsPath == "/fasco/pod0123/c1")
        #expect(placed.process?.oomScoreAdj == -500)
        placed.linux?.cgroupsPath = nil
        placed.process?.oomScoreAdj = -998
        #expect(placed == spec)

        spec.process?.oomScoreAdj = 1000
        #expect(try SoftwareBackend.runnable(spec, containerID: "c1", pod: pod(), oomScoreAdjFloor: -500).process?.oomScoreAdj == 1000)
        spec.process?.oomScoreAdj = nil
        #expect(try SoftwareBackend.runnable(spec, containerID: "c1", pod: pod(), oomScoreAdjFloor: 300).process?.oomScoreAdj == nil)
        spec.linux = nil
        #expect(try SoftwareBackend.runnable(spec, containerID: "c1", pod: pod(slice: "p.slice"), oomScoreAdjFloor: 0).linux
            == .init(cgroupsPath: "p.slice:fasco:c1"))

        func clamped(_ requested: Int, floor: Int) throws -> Int? {
            spec.process?.oomScoreAdj = requested
            return try SoftwareBackend.runnable(spec, containerID: "c1", pod: pod(), oomScoreAdjFloor: floor).process?.oomScoreAdj
        }
        #expect(try clamped(-500, floor: -500) == -500)
        #expect(try clamped(200, floor: 0) == 200)
        #expect(try clamped(-1000, floor: 0) == 0)
        #expect(try clamped(-1000, floor: -1000) == -1000)
        let own = try #require(try readText("/proc/self/oom_score_adj"))
        #expect(SoftwareBackend.daemonOOMScoreAdj() == Int(own.split(separator: "\n")[0]))
    }

    @Test("mount points: only in a user namespace; a file for a bind of a file; none below another mount")
    func mountPoints() {
        let mounts: [RuntimeSpec.Mount] = [
            .init(destination: "/proc", type: "proc", source: "proc"),
            .init(destination: "/dev", type: "tmpfs", source: "tmpfs"),
            .init(destination: "/dev/shm", type: "bind", source: "/run/pod/shm", options: ["rbind"]),
            .init(destination: "/etc/hosts", type: "bind", source: "/run/pod/hosts", options: ["rbind", "ro"]),
            .init(destination: "/data", source: "/srv/data", options: ["rbind"]),
            .init(destination: "/data/cache", type: "bind", source: "/srv/cache"),
            .init(destination: "/notes.txt", type: "none", source: "/srv/notes.txt", options: ["bind"]),
            .init(destination: "/", type: "tmpfs", source: "tmpfs"),
        ]
        let files: Set<String> = ["/run/pod/hosts", "/srv/notes.txt", "tmpfs"]
        var spec = RuntimeSpec(ociVersion: "1.0.2", mounts: mounts, linux: .init(namespaces: [.init(type: .mount)]))
        #expect(SoftwareBackend.mountPoints(of: spec, isFile: files.contains).isEmpty, "the runtime makes them without a user namespace")
        spec.linux?.namespaces?.insert(.init(type: .user, path: "/proc/7/ns/user"), at: 0)
        let points = SoftwareBackend.mountPoints(of: spec, isFile: files.contains)
        #expect(points.map(\.path) == ["/proc", "/dev", "/etc/hosts", "/data", "/notes.txt"])
        #expect(points.map(\.file) == [false, false, true, false, true], "a tmpfs source is no bind, whatever it names")
    }
}
