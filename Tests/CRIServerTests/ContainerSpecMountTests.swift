import CRIAPI
import CRIServer
import FascoCore
import OCISpec
import RealmCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("ContainerSpecBuilder: mounts, devices, resources")
struct ContainerSpecMountTests {
    private func build(_ fixture: SpecFixture, _ configure: (inout ContainerConfig) -> Void = { _ in }) throws -> RuntimeSpec {
        try ContainerSpecBuilder.build(fixture.input(configure))
    }

    private func volume(_ fixture: SpecFixture, _ name: String) throws -> String {
        let path = fixture.directory + "/volumes/" + name
        try FileSystem.makeDirectories(path, mode: 0o755)
        return path
    }

    // MARK: - mounts

    @Test("default mounts, then the pod's files, parents first")
    func defaults() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let mounts = try build(fixture).mounts ?? []
        #expect(mounts.map(\.destination) == [
            "/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
            "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev/shm",
        ])
        #expect(mounts[0] == .init(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]))
        #expect(mounts[1].type == "tmpfs")
        #expect(mounts[2].type == "devpts")
        #expect(mounts[3].type == "mqueue")
        #expect(mounts[4].type == "sysfs" && mounts[4].options?.contains("ro") == true)
        #expect(mounts[5].type == "cgroup" && mounts[5].options?.contains("ro") == true)
        #expect(mounts[6] == .init(destination: "/etc/hostname", type: "bind", source: fixture.podDirectory + "/hostname",
                                   options: ["rbind", "rprivate", "rw"]))
        #expect(mounts[7].source == fixture.podDirectory + "/hosts")
        #expect(mounts[8].source == fixture.podDirectory + "/resolv.conf")
        #expect(mounts[9] == .init(destination: "/dev/shm", type: "bind", source: fixture.podDirectory + "/shm",
                                   options: ["rbind", "rprivate", "rw"]))
    }

    @Test("a read-only rootfs makes the pod's /etc files read-only, not /dev/shm")
    func readonlyRootfsPodFiles() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let mounts = try build(fixture) { $0.security.readonlyRootfs = true }.mounts ?? []
        for destination in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
            #expect(mounts.first { $0.destination == destination }?.options?.last == "ro")
        }
        #expect(mounts.first { $0.destination == "/dev/shm" }?.options?.last == "rw")
    }

    @Test("the pod's guest API directory is a read-only bind at /run/fasco/guest; none without one; a CRI mount there wins")
    func guestAPIDirectory() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let guest = try volume(fixture, "guest")
        var input = fixture.input()
        input.pod.guestAPIDirectory = guest
        let mounts = try ContainerSpecBuilder.build(input).mounts ?? []
        #expect(mounts.last == .init(destination: "/run/fasco/guest", type: "bind", source: guest,
                                     options: ["rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"]))
        #expect(!(try build(fixture).mounts ?? []).contains { $0.destination == "/run/fasco/guest" })
        input.pod.guestAPIDirectory = guest + "-missing"
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .failedPrecondition)
        let other = try volume(fixture, "other")
        var replaced = fixture.input { $0.mounts = [Mount(containerPath: "/run/fasco/guest", hostPath: other)] }
        replaced.pod.guestAPIDirectory = guest
        let sources = (try ContainerSpecBuilder.build(replaced).mounts ?? []).filter { $0.destination == "/run/fasco/guest" }.map(\.source)
        #expect(sources == [other])
    }

    @Test("a missing pod file is FAILED_PRECONDITION")
    func missingPodFile() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input()
        input.pod.hostsPath = fixture.podDirectory + "/no-such-hosts"
        #expect(specError { _ = try ContainerSpecBuilder.build(input) }?.code == .failedPrecondition)
    }

    @Test("CRI mounts are rbind with rprivate and ro/rw; they replace pod files and defaults they target")
    func criMounts() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let data = try volume(fixture, "data")
        let hosts = fixture.directory + "/my-hosts"
        try fixture.write("127.0.0.1 mine\n", to: hosts)
        let mounts = try build(fixture) {
            $0.mounts = [
                Mount(containerPath: "/data//sub/", hostPath: data, readonly: true, selinuxRelabel: true),
                Mount(containerPath: "/etc/hosts", hostPath: hosts),
                Mount(containerPath: "/dev/mqueue", hostPath: data),
            ]
        }.mounts ?? []
        #expect(mounts.first { $0.destination == "/data/sub" }
            == .init(destination: "/data/sub", type: "bind", source: data, options: ["rbind", "rprivate", "ro"]))
        #expect(mounts.filter { $0.destination == "/etc/hosts" }.map(\.source) == [hosts])
        #expect(mounts.filter { $0.destination == "/dev/mqueue" }.map(\.type) == ["bind"])
    }

    @Test("a CRI /dev replaces every default mount below /dev")
    func criDev() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let dev = try volume(fixture, "dev")
        let mounts = try build(fixture) { $0.mounts = [Mount(containerPath: "/dev", hostPath: dev)] }.mounts ?? []
        #expect(mounts.map(\.destination) == [
            "/proc", "/sys", "/sys/fs/cgroup", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev/shm",
        ])
    }

    @Test("mounts are ordered parents first, stable otherwise")
    func ordering() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let a = try volume(fixture, "a"), b = try volume(fixture, "b"), c = try volume(fixture, "c")
        let mounts = try build(fixture) {
            $0.mounts = [
                Mount(containerPath: "/x/y/z", hostPath: c),
                Mount(containerPath: "/x", hostPath: a),
                Mount(containerPath: "/x/y", hostPath: b),
                Mount(containerPath: "/w", hostPath: b),
            ]
        }.mounts ?? []
        let order = mounts.map(\.destination).filter { $0.hasPrefix("/x") || $0 == "/w" }
        #expect(order == ["/x", "/w", "/x/y", "/x/y/z"])
    }

    @Test("a symlinked host path is resolved; a missing one is created as a directory")
    func hostPathResolution() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let target = try volume(fixture, "target")
        let link = fixture.directory + "/volumes/link"
        #expect(symlink(target, link) == 0)
        let missing = fixture.directory + "/volumes/new/nested"
        let mounts = try build(fixture) {
            $0.mounts = [Mount(containerPath: "/linked", hostPath: link), Mount(containerPath: "/new", hostPath: missing)]
        }.mounts ?? []
        #expect(mounts.first { $0.destination == "/linked" }?.source == target)
        #expect(mounts.first { $0.destination == "/new" }?.source == missing)
        #expect(FileSystem.isDirectory(missing))
    }

    @Test("recursive read-only needs readonly and private propagation")
    func recursiveReadOnly() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let data = try volume(fixture, "rro")
        let mounts = try build(fixture) {
            $0.mounts = [Mount(containerPath: "/mnt", hostPath: data, readonly: true, recursiveReadOnly: true)]
        }.mounts ?? []
        #expect(mounts.first { $0.destination == "/mnt" }?.options == ["rbind", "rprivate", "ro", "rro"])
        for mount in [
            Mount(containerPath: "/mnt", hostPath: data, readonly: false, recursiveReadOnly: true),
            Mount(containerPath: "/mnt", hostPath: data, readonly: true, propagation: .hostToContainer, recursiveReadOnly: true),
            Mount(containerPath: "/mnt", hostPath: data, readonly: true, propagation: .bidirectional, recursiveReadOnly: true),
        ] {
            #expect(specError { _ = try build(fixture) { $0.mounts = [mount] } }?.code == .invalidArgument)
        }
    }

    @Test("malformed CRI mounts are INVALID_ARGUMENT and create nothing")
    func badMounts() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let data = try volume(fixture, "bad")
        let never = fixture.directory + "/never-created"
        let bad = [
            Mount(containerPath: "relative", hostPath: data),
            Mount(containerPath: "", hostPath: data),
            Mount(containerPath: "/m", hostPath: "relative/host"),
            Mount(containerPath: "/m", hostPath: ""),
            Mount(containerPath: "/m", hostPath: never, propagation: .unrecognized(5)),
            Mount(containerPath: "/m", hostPath: never, uidMappings: [IDMapping(hostID: 1, containerID: 0, length: 1)]),
        ]
        for mount in bad {
            #expect(specError { _ = try build(fixture) { $0.mounts = [mount] } }?.code == .invalidArgument)
        }
        #expect(specError { _ = try build(fixture) {
            $0.mounts = [Mount(containerPath: "/m", hostPath: never)]
            $0.resources = LinuxContainerResources(cpuShares: -1)
        } }?.code == .invalidArgument, "other errors are found before any directory is made")
        #expect(!FileSystem.exists(never))
        #expect(specError { _ = try build(fixture) {
            $0.mounts = [Mount(containerPath: "/m", hostPath: data), Mount(containerPath: "/m/", hostPath: data)]
        } }?.code == .invalidArgument)
        #expect(specError { _ = try build(fixture) {
            $0.mounts = [Mount(containerPath: "/m", hostPath: data, image: ImageSpec(image: "busybox"))]
        } }?.code == .unimplemented)
    }

    @Test("idmapped CRI mounts carry their mappings")
    func idmappedMount() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let data = try volume(fixture, "idmap")
        let mapping = [IDMapping(hostID: 1000, containerID: 0, length: 10)]
        let mount = try build(fixture) {
            $0.mounts = [Mount(containerPath: "/m", hostPath: data, uidMappings: mapping, gidMappings: mapping)]
        }.mounts?.first { $0.destination == "/m" }
        #expect(mount?.uidMappings == [.init(containerID: 0, hostID: 1000, size: 10)])
        #expect(mount?.gidMappings == [.init(containerID: 0, hostID: 1000, size: 10)])
    }

    /// A tmpfs mounted on a fresh directory with the given propagation (needs root).
    private func propagationMount(_ fixture: SpecFixture, _ name: String, flag: UInt) throws -> String {
        let path = try volume(fixture, name)
        guard mount("fasco-test", path, "tmpfs", 0, nil) == 0 else {
            throw FascoError.internal("mount tmpfs on \(path): \(FileSystem.errnoText)")
        }
        guard mount("", path, "", UInt(MS_PRIVATE), nil) == 0, mount("", path, "", flag, nil) == 0 else {
            let error = FascoError.internal("set propagation of \(path): \(FileSystem.errnoText)")
            umount2(path, Int32(MNT_DETACH))
            throw error
        }
        return path
    }

    @Test("BIDIRECTIONAL needs a shared host mount and makes the rootfs rshared; HOST_TO_CONTAINER takes rslave",
          .enabled(if: getuid() == 0, "needs root to mount the tmpfs volumes it checks"))
    func propagation() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let shared = try propagationMount(fixture, "shared", flag: UInt(MS_SHARED))
        defer { umount2(shared, Int32(MNT_DETACH)) }
        let privateMount = try propagationMount(fixture, "private", flag: UInt(MS_PRIVATE))
        defer { umount2(privateMount, Int32(MNT_DETACH)) }
        try FileSystem.makeDirectories(shared + "/sub", mode: 0o755)

        var spec = try build(fixture) { $0.mounts = [Mount(containerPath: "/s", hostPath: shared + "/sub", propagation: .bidirectional)] }
        #expect(spec.mounts?.first { $0.destination == "/s" }?.options == ["rbind", "rshared", "rw"])
        #expect(spec.linux?.rootfsPropagation == "rshared")

        spec = try build(fixture) { $0.mounts = [Mount(containerPath: "/s", hostPath: shared, propagation: .hostToContainer)] }
        #expect(spec.mounts?.first { $0.destination == "/s" }?.options == ["rbind", "rslave", "rw"])
        #expect(spec.linux?.rootfsPropagation == "rslave")

        spec = try build(fixture) {
            $0.mounts = [Mount(containerPath: "/a", hostPath: shared, propagation: .bidirectional),
                         Mount(containerPath: "/b", hostPath: shared, propagation: .hostToContainer)]
        }
        #expect(spec.linux?.rootfsPropagation == "rshared")

        for propagation in [MountPropagation.bidirectional, .hostToContainer] {
            let error = specError { _ = try build(fixture) { $0.mounts = [Mount(containerPath: "/p", hostPath: privateMount, propagation: propagation)] } }
            #expect(error?.code == .failedPrecondition)
        }
        #expect(try build(fixture) { $0.mounts = [Mount(containerPath: "/p", hostPath: privateMount)] }.linux?.rootfsPropagation == nil)
    }

    @Test("propagation is held against the host's mount table as HostFacts gives it: shared, slave, private, stacked")
    func propagationAgainstTheTable() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let shared = try volume(fixture, "shared"), slave = try volume(fixture, "slave")
        let covered = try volume(fixture, "covered"), plain = try volume(fixture, "plain")
        try FileSystem.makeDirectories(shared + "/sub dir", mode: 0o755)
        var files = FakeHostFiles()
        let escaped = { (path: String) in String(path.flatMap { $0 == " " ? Array(#"\040"#) : [$0] }) }
        files.mountInfo = """
            1 0 0:1 / / rw - ext4 /dev/vda rw
            2 1 0:2 / \(escaped(shared)) rw shared:5 - tmpfs t rw
            3 1 0:3 / \(slave) rw master:5 - tmpfs t rw
            4 1 0:4 / \(covered) rw shared:6 - tmpfs t rw
            5 4 0:5 / \(covered) rw - tmpfs t rw
            """
        func build(_ mounts: [Mount]) throws -> RuntimeSpec {
            var input = fixture.input { $0.mounts = mounts }
            input.host.files = files
            return try ContainerSpecBuilder.build(input)
        }

        var spec = try build([Mount(containerPath: "/s", hostPath: shared + "/sub dir", propagation: .bidirectional)])
        #expect(spec.mounts?.first { $0.destination == "/s" }?.options == ["rbind", "rshared", "rw"])
        #expect(spec.linux?.rootfsPropagation == "rshared")
        spec = try build([Mount(containerPath: "/s", hostPath: slave, propagation: .hostToContainer)])
        #expect(spec.mounts?.first { $0.destination == "/s" }?.options == ["rbind", "rslave", "rw"])
        #expect(spec.linux?.rootfsPropagation == "rslave")
        spec = try build([Mount(containerPath: "/a", hostPath: shared, propagation: .bidirectional),
                          Mount(containerPath: "/b", hostPath: slave, propagation: .hostToContainer)])
        #expect(spec.linux?.rootfsPropagation == "rshared", "rshared wins over a later rslave")
        #expect(specError { _ = try build([Mount(containerPath: "/p", hostPath: slave, propagation: .bidirectional)]) }?.code
            == .failedPrecondition, "a slave cannot propagate back")
        for propagation in [MountPropagation.bidirectional, .hostToContainer] {
            #expect(specError { _ = try build([Mount(containerPath: "/p", hostPath: plain, propagation: propagation)]) }?.code
                == .failedPrecondition, "on the private root mount")
            #expect(specError { _ = try build([Mount(containerPath: "/p", hostPath: covered, propagation: propagation)]) }?.code
                == .failedPrecondition, "the private mount stacked on the shared one is what counts")
        }

        // Private mounts never read the table; a table that cannot be read fails only the others.
        files.mountInfo = "not mountinfo"
        #expect(try build([Mount(containerPath: "/p", hostPath: plain)]).linux?.rootfsPropagation == nil)
        #expect(specError { _ = try build([Mount(containerPath: "/p", hostPath: shared, propagation: .hostToContainer)]) }?.code
            == .failedPrecondition)
    }

    @Test("a bind source is what the host resolves the path to")
    func bindSourceFromHost() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var files = FakeHostFiles()
        files.links["/srv/link"] = "/data/target"
        var input = fixture.input { $0.mounts = [Mount(containerPath: "/m", hostPath: "/srv/link")] }
        input.host.files = files
        #expect(try ContainerSpecBuilder.build(input).mounts?.first { $0.destination == "/m" }?.source == "/data/target")
    }

    // MARK: - devices

    @Test("CRI devices: stat'ed host node at the container path, with an allow rule of its permissions")
    func devices() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let spec = try build(fixture) {
            $0.devices = [Device(containerPath: "/dev/mynull", hostPath: "/dev/null", permissions: "rw"),
                          Device(containerPath: "/dev/myzero", hostPath: "/dev/zero", permissions: "")]
        }
        let nodes = spec.linux?.devices ?? []
        #expect(nodes.count == 2)
        #expect(nodes.first?.path == "/dev/mynull")
        #expect(nodes.first?.type == "c" && nodes.first?.major == 1 && nodes.first?.minor == 3)
        #expect(nodes.first?.fileMode == 0o666)
        let rules = spec.linux?.resources?.devices ?? []
        #expect(rules.first == .init(allow: false, access: "rwm"))
        #expect(Array(rules.prefix(ContainerSpecBuilder.defaultDeviceRules.count)) == ContainerSpecBuilder.defaultDeviceRules)
        #expect(rules.contains(.init(allow: true, type: "c", major: 1, minor: 3, access: "rw")))
        #expect(rules.contains(.init(allow: true, type: "c", major: 1, minor: 5, access: "rwm")))
    }

    @Test("a device directory contributes every node below it", .enabled(if: getuid() == 0, "needs root to mknod a device node"))
    func deviceDirectory() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let directory = try volume(fixture, "devdir")
        try FileSystem.makeDirectories(directory + "/sub", mode: 0o755)
        #expect(mknod(directory + "/sub/null2", S_IFCHR | 0o600, dev_t((1 << 8) | 3)) == 0)
        let nodes = try build(fixture) {
            $0.devices = [Device(containerPath: "/dev/extra", hostPath: directory, permissions: "r")]
        }.linux?.devices ?? []
        #expect(nodes.map(\.path) == ["/dev/extra/sub/null2"])
        #expect(nodes.first?.fileMode == 0o600)
    }

    @Test("devices as HostFacts gives them: a directory's nodes below it, privileged gets /dev's")
    func devicesFromHost() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var files = FakeHostFiles()
        let gpu = HostDevice(type: "c", major: 195, minor: 0, fileMode: 0o660, uid: 0, gid: 44)
        let disk = HostDevice(type: "b", major: 8, minor: 16, fileMode: 0o600, uid: 0, gid: 6)
        files.devices = ["/srv/devs/gpu0": gpu, "/srv/devs/sub/disk": disk, "/dev/fake-null": gpu]
        var input = fixture.input { $0.devices = [Device(containerPath: "/dev/extra/", hostPath: "/srv/devs", permissions: "rw")] }
        input.host.files = files
        var spec = try ContainerSpecBuilder.build(input)
        #expect(spec.linux?.devices?.map(\.path) == ["/dev/extra/gpu0", "/dev/extra/sub/disk"])
        #expect(spec.linux?.devices?.last == disk.spec(path: "/dev/extra/sub/disk"))
        #expect(spec.linux?.resources?.devices?.suffix(2) == [
            .init(allow: true, type: "c", major: 195, minor: 0, access: "rw"), .init(allow: true, type: "b", major: 8, minor: 16, access: "rw"),
        ])

        input.config.devices = [Device(containerPath: "/dev/fake-null", hostPath: "/srv/devs/sub/disk", permissions: "r")]
        input.config.security.privileged = true
        input.pod.config.linux = LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(privileged: true))
        spec = try ContainerSpecBuilder.build(input)
        #expect(spec.linux?.devices == [disk.spec(path: "/dev/fake-null")], "the CRI device replaces /dev's node at its path")
        #expect(spec.linux?.resources?.devices == [.init(allow: true, access: "rwm")])
    }

    @Test("bad devices: not a node, missing, relative, unknown permissions")
    func badDevices() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let regular = fixture.directory + "/regular"
        try fixture.write("x", to: regular)
        let cases: [(Device, FascoError.Code)] = [
            (Device(containerPath: "/dev/x", hostPath: regular), .invalidArgument),
            (Device(containerPath: "/dev/x", hostPath: "/dev/no-such-device-fasco"), .failedPrecondition),
            (Device(containerPath: "dev/x", hostPath: "/dev/null"), .invalidArgument),
            (Device(containerPath: "/dev/x", hostPath: "null"), .invalidArgument),
            (Device(containerPath: "/dev/x", hostPath: "/dev/null", permissions: "rwx"), .invalidArgument),
        ]
        for (device, code) in cases {
            #expect(specError { _ = try build(fixture) { $0.devices = [device] } }?.code == code, "\(device)")
        }
    }

    // MARK: - resources

    @Test("CPU, memory (swap defaults to the limit), hugepages and unified limits")
    func resources() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var spec = try build(fixture) {
            $0.resources = LinuxContainerResources(
                cpuPeriod: 100_000, cpuQuota: 50_000, cpuShares: 512, memoryLimitInBytes: 64 << 20,
                cpusetCpus: "0-1", cpusetMems: "0",
                hugepageLimits: [HugepageLimit(pageSize: "2MB", limit: 4 << 20)],
                unified: ["memory.high": "1000000"])
        }
        let resources = spec.linux?.resources
        #expect(resources?.cpu == .init(shares: 512, quota: 50_000, period: 100_000, cpus: "0-1", mems: "0"))
        #expect(resources?.memory == .init(limit: 64 << 20, swap: 64 << 20))
        #expect(resources?.hugepageLimits == [.init(pageSize: "2MB", limit: 4 << 20)])
        #expect(resources?.unified == ["memory.high": "1000000"])
        #expect(spec.linux?.cgroupsPath == nil, "the backend places the container")

        spec = try build(fixture) { $0.resources = LinuxContainerResources(memoryLimitInBytes: 15 << 20, memorySwapLimitInBytes: 30 << 20) }
        #expect(spec.linux?.resources?.memory == .init(limit: 15 << 20, swap: 30 << 20))
        spec = try build(fixture) { $0.resources = LinuxContainerResources(memorySwapLimitInBytes: 30 << 20) }
        #expect(spec.linux?.resources?.memory == nil, "swap without a memory limit is dropped")
        spec = try build(fixture) { $0.resources = LinuxContainerResources() }
        #expect(spec.linux?.resources?.cpu == nil)
        #expect(spec.linux?.resources?.memory == nil)
    }

    @Test("malformed resources are INVALID_ARGUMENT")
    func badResources() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let bad = [
            LinuxContainerResources(cpuShares: -2),
            LinuxContainerResources(cpuPeriod: -1),
            LinuxContainerResources(cpuQuota: -2),
            LinuxContainerResources(memoryLimitInBytes: -5),
            LinuxContainerResources(memoryLimitInBytes: 64 << 20, memorySwapLimitInBytes: 32 << 20),
            LinuxContainerResources(cpusetCpus: "1-0"),
            LinuxContainerResources(cpusetCpus: "a"),
            LinuxContainerResources(cpusetMems: "0,,1"),
            LinuxContainerResources(hugepageLimits: [HugepageLimit(pageSize: "2XB", limit: 1)]),
            LinuxContainerResources(unified: ["../cpu.max": "1"]),
            LinuxContainerResources(oomScoreAdj: 1001),
            LinuxContainerResources(oomScoreAdj: -1001),
        ]
        for resources in bad {
            #expect(specError { _ = try build(fixture) { $0.resources = resources } }?.code == .invalidArgument, "\(resources)")
        }
    }

    @Test("oom_score_adj is the request (0 without one); raising it to the daemon's own is the backend's")
    func oomScoreAdj() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        var input = fixture.input { $0.resources = LinuxContainerResources(oomScoreAdj: -998) }
        #expect(try ContainerSpecBuilder.build(input).process?.oomScoreAdj == -998)
        input.config.resources.oomScoreAdj = 1000
        #expect(try ContainerSpecBuilder.build(input).process?.oomScoreAdj == 1000)
        input.config.linux?.resources = nil
        #expect(try ContainerSpecBuilder.build(input).process?.oomScoreAdj == 0)
    }
}
