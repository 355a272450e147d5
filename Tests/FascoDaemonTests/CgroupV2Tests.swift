import CRIAPI
import Foundation
import Testing

/// The cgroupfs driver on cgroup v2, for real: on a unified host directly, elsewhere in
/// Tests/cgroupv2/lab.sh (a private mount namespace whose /sys/fs/cgroup is the host's v2
/// hierarchy alone). The lab's hierarchy offers only the controllers no v1 hierarchy holds
/// (hugetlb on the development host), which is enough for v2's rule that a cgroup handing
/// controllers to its children holds no processes itself.
enum CgroupV2Host {
    static let lab = repositoryRoot.appendingPathComponent("Tests/cgroupv2/lab.sh").path

    /// Where the test sees the host's v2 hierarchy (the last cgroup2 mount, as a later mount
    /// on one mount point hides an earlier one).
    static let mountPoint: String? = mountTable().compactMap { line -> String? in
        let halves = line.components(separatedBy: " - ")
        guard halves.count == 2, halves[1].hasPrefix("cgroup2 ") else { return nil }
        return halves[0].split(separator: " ").dropFirst(4).first.map(String.init)
    }.last

    /// /sys/fs/cgroup is the v2 hierarchy: the host is unified, no lab is needed.
    static var unified: Bool { mountPoint == "/sys/fs/cgroup" }

    static var launcher: [String] { unified ? [] : [lab] }

    /// crun raises RLIMIT_MEMLOCK to load its device filter on v2, which needs CAP_SYS_RESOURCE;
    /// a host that withholds it (the development host does) runs the test with runc only.
    static var runtimes: [String] {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let effective = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
            .flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) } ?? 0
        return effective & (1 << 24) != 0 ? ["crun", "runc"] : ["runc"]
    }

    /// The controllers a v2 cgroup offers its children's cgroups.
    static func controllers(_ directory: String) -> Set<String> {
        let text = (try? String(contentsOfFile: directory + "/cgroup.controllers", encoding: .utf8)) ?? ""
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    static func processes(_ directory: String) -> [Int32] {
        let text = (try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { Int32($0) }
    }
}

@Suite("cgroup v2 with the cgroupfs driver", .serialized,
       .enabled(if: CgroupV2Host.mountPoint != nil, "no cgroup v2 hierarchy on this host"))
struct CgroupV2Tests {
    @Test("the supervisor lives in the pod's leaf, so the containers' cgroups get every controller v2 offers; nothing is left",
          arguments: CgroupV2Host.runtimes)
    func placement(ociRuntime: String) async throws {
        let hierarchy = try #require(CgroupV2Host.mountPoint)
        var root = ""
        try await PodFixture.with(ociRuntime: ociRuntime, launcher: CgroupV2Host.launcher) { fixture in
            root = hierarchy + fixture.cgroupRoot
            let pod = try await fixture.runPod("v2")
            let podCgroup = root + "/" + pod.id
            let leaf = podCgroup + "/fasco-realm"
            #expect(CgroupV2Host.processes(podCgroup).isEmpty, "no process in the pod's cgroup itself")
            let realm = CgroupV2Host.processes(leaf)
            #expect(!realm.isEmpty)
            for pid in realm {
                let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
                #expect(command.contains("fasco-realm"), "\(pid): \(command)")
            }

            let id = try await fixture.runContainer(pod, "app", script: "sleep 1000")
            let container = podCgroup + "/" + id
            #expect(!CgroupV2Host.processes(container).isEmpty)
            // What the hierarchy offers reaches the container (runc and crun delegate it on the
            // way down); a process in the pod's cgroup would have stopped it there.
            let offered = CgroupV2Host.controllers(hierarchy)
            #expect(CgroupV2Host.controllers(podCgroup) == offered)
            #expect(CgroupV2Host.controllers(container) == offered)

            let stats = try await fixture.runtime.containerStats(ContainerStatsRequest(containerID: id))
            #expect(stats.stats?.cpu?.usageCoreNanoSeconds != nil, "cpu.stat is there without the cpu controller")
            let podStats = try await fixture.runtime.podSandboxStats(PodSandboxStatsRequest(podSandboxID: pod.id))
            #expect(podStats.stats?.linux?.containers.map { $0.attributes?.id } == [id])

            _ = try await fixture.runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id))
            _ = try await fixture.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id))
            #expect(!FileManager.default.fileExists(atPath: podCgroup), "the pod's cgroup, leaf and containers included, is gone")
        }
        // The daemon leaves its empty cgroup root, as a runtime leaves /kubepods.
        #expect(rmdir(root) == 0 || errno == ENOENT)
    }
}
