import FascoCore
import RealmCore
import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The cgroup lines of the development host's mountinfo (v1 controllers, name=systemd and a
/// v2 mount at /sys/fs/cgroup/unified offering only hugetlb).
private let hybridMountInfo = """
    27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
    23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
    31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
    32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
    33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
    34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
    35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
    36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
    37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
    38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
    39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
    40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
    """

private let procCgroups = """
    #subsys_name\thierarchy\tnum_cgroups\tenabled
    cpuset\t3\t2\t1
    cpu\t1\t2\t1
    cpuacct\t2\t2\t1
    blkio\t7\t2\t1
    memory\t4\t28\t1
    devices\t5\t2\t1
    freezer\t6\t2\t1
    net_cls\t0\t2\t1
    perf_event\t0\t2\t1
    net_prio\t0\t2\t1
    hugetlb\t0\t2\t1
    pids\t8\t2\t1
    """

private let filesystems = "nodev\tsysfs\nnodev\tcgroup\nnodev\tcgroup2\n\text4\n"

@Suite("host cgroup detection")
struct HostCgroupsTests {
    @Test("a v1 layout with a v2 mount offering hugetlb is hybrid, and crun must not see the v2 mount")
    func hybrid() {
        let host = HostCgroups.classify(
            mounts: MountInfo.parse(hybridMountInfo), filesystems: filesystems, procCgroups: procCgroups,
            systemdRunning: false, v2Controllers: { $0 == "/sys/fs/cgroup/unified" ? ["hugetlb"] : [] })
        #expect(host.mode == .hybrid)
        #expect(host.v1Controllers == ["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"])
        #expect(host.v2Controllers == ["hugetlb"])
        #expect(host.v2MountPoint == "/sys/fs/cgroup/unified")
        #expect(host.hierarchy(of: "memory")?.mountPoint == "/sys/fs/cgroup/memory")
        #expect(host.hierarchy(of: "hugetlb")?.version == .v2)
        #expect(host.v1Hierarchies.contains { $0.name == "systemd" && $0.controllers.isEmpty })
        #expect(host.unplacedControllers == ["net_cls", "perf_event", "net_prio"])
        #expect(host.kernelSupportsV1 && host.kernelSupportsV2)
        #expect(host.preferredDriver == .cgroupfs)
        #expect(host.mountsHidingHybridFromCrun == ["/sys/fs/cgroup/unified"])
    }

    @Test("hybrid with a controller-less v2 mount, every v2-capable controller bound to v1, is something crun accepts as is")
    func hybridWithoutV2Controllers() {
        // Every explicit v2 controller the kernel has is in a v1 hierarchy: none can appear in v2.
        let allInV1 = procCgroups.split(separator: "\n").filter { !$0.hasPrefix("hugetlb") }.joined(separator: "\n")
        let host = HostCgroups.classify(
            mounts: MountInfo.parse(hybridMountInfo), filesystems: filesystems, procCgroups: allInV1,
            systemdRunning: true, v2Controllers: { _ in [] })
        #expect(host.mode == .hybrid)
        #expect(host.mountsHidingHybridFromCrun.isEmpty)
        #expect(host.preferredDriver == .systemd)
    }

    @Test("hybrid whose v2 mount offers nothing yet, while hugetlb is bound to no v1 hierarchy: hidden from crun, as another runtime may enable it in v2 later")
    func hybridWithControllerThatMayAppear() {
        let host = HostCgroups.classify(
            mounts: MountInfo.parse(hybridMountInfo), filesystems: filesystems, procCgroups: procCgroups,
            systemdRunning: true, v2Controllers: { _ in [] })
        #expect(host.mode == .hybrid)
        #expect(host.unplacedControllers.contains("hugetlb"))
        #expect(host.mountsHidingHybridFromCrun == ["/sys/fs/cgroup/unified"])
    }

    @Test("cgroup2 at /sys/fs/cgroup alone is unified")
    func unified() {
        let text = """
            23 27 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
            30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
            """
        let host = HostCgroups.classify(
            mounts: MountInfo.parse(text), filesystems: filesystems, procCgroups: nil, systemdRunning: true,
            v2Controllers: { _ in ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"] })
        #expect(host.mode == .unified)
        #expect(host.v2MountPoint == "/sys/fs/cgroup")
        #expect(host.v2Controllers == ["cpu", "cpuset", "hugetlb", "io", "memory", "pids"])
        #expect(host.mountsHidingHybridFromCrun.isEmpty)
    }

    @Test("v1 hierarchies alone are legacy; co-mounted controllers are split out")
    func legacy() {
        let text = """
            31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
            33 31 0:30 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid - cgroup cgroup rw,net_cls,net_prio
            34 31 0:31 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
            """
        let host = HostCgroups.classify(
            mounts: MountInfo.parse(text), filesystems: filesystems, procCgroups: nil, systemdRunning: false, v2Controllers: { _ in [] })
        #expect(host.mode == .legacy)
        #expect(host.v1Controllers == ["cpu", "cpuacct", "net_cls", "net_prio"])
        #expect(host.hierarchy(of: "cpuacct")?.mountPoint == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(host.v2MountPoint == nil)
    }

    @Test("nothing mounted is none; mount points are unescaped; a later mount hides an earlier one")
    func edges() {
        #expect(HostCgroups.classify(mounts: [], filesystems: "", procCgroups: nil, systemdRunning: false, v2Controllers: { _ in [] }).mode == .none)
        let escaped = MountInfo.parse(#"40 31 0:37 / /mnt/with\040space rw - cgroup2 cgroup2 rw"#)
        #expect(escaped.first?.mountPoint == "/mnt/with space")
        #expect(MountInfo.parse("garbage line\n1 2 3").isEmpty)
        let hidden = """
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            42 41 0:39 / /sys/fs/cgroup/unified rw,relatime - tmpfs tmpfs rw
            32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
            """
        let host = HostCgroups.classify(
            mounts: MountInfo.parse(hidden), filesystems: filesystems, procCgroups: nil, systemdRunning: false, v2Controllers: { _ in ["hugetlb"] })
        #expect(host.mode == .legacy)
    }

    @Test("detection agrees with a plain reading of this host's /proc/self/mountinfo")
    func thisHost() throws {
        let host = try HostCgroups.detect()
        // Independent reading: the file-system type is the first field after " - ".
        let text = try #require(try readText("/proc/self/mountinfo"))
        var v1: Set<String> = []
        var v2: Set<String> = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            if fields[dash + 1] == "cgroup" { v1.insert(String(fields[4])) }
            if fields[dash + 1] == "cgroup2" { v2.insert(String(fields[4])) }
        }
        #expect(Set(host.v1Hierarchies.map(\.mountPoint)) == v1)
        #expect(Set(host.v2Hierarchies.map(\.mountPoint)) == v2)
        let expected: HostCgroups.Mode = v1.isEmpty ? (v2.isEmpty ? .none : .unified) : (v2.isEmpty ? .legacy : .hybrid)
        #expect(host.mode == expected)
        for mountPoint in v2 {
            let offered = (try readText(mountPoint + "/cgroup.controllers") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            #expect(host.hierarchies.first { $0.mountPoint == mountPoint }?.controllers == offered)
        }
        #expect(host.systemdRunning == FileSystem.isDirectory("/run/systemd/system"))
        if v2.contains("/sys/fs/cgroup/unified") && !v1.isEmpty {
            // The development host's known shape (DESIGN.md, "Facts about this host").
            #expect(host.mode == .hybrid)
        }
        print("host cgroups: mode=\(host.mode) v1=\(host.v1Controllers) v2=\(host.v2Controllers) at \(host.v2MountPoint ?? "-") "
              + "unplaced=\(host.unplacedControllers) systemd=\(host.systemdRunning) crun-hides=\(host.mountsHidingHybridFromCrun)")
    }
}
