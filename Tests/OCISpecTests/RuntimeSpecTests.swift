import Foundation
import Testing

import OCISpec

// MARK: - Helpers

private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(json.utf8))
}

private func encode<T: Encodable>(_ value: T) throws -> Data {
    try JSONEncoder().encode(value)
}

/// `json` parsed and re-serialized with sorted keys: equal strings mean equal JSON documents.
private func canonical(_ json: Data) throws -> String {
    let object = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
}

private func canonical(_ json: String) throws -> String { try canonical(Data(json.utf8)) }

/// The JSON object at `path` (member names, or decimal indices into arrays) in `data`.
private func object(_ data: Data, _ path: String...) throws -> [String: Any] {
    try object(data, path: path)
}

private func object(_ data: Data, path: [String]) throws -> [String: Any] {
    var current: Any = try JSONSerialization.jsonObject(with: data)
    for component in path {
        if let index = Int(component), let array = current as? [Any] {
            current = array[index]
        } else {
            current = try #require((current as? [String: Any])?[component], "no \(component) in \(path)")
        }
    }
    return try #require(current as? [String: Any], "\(path) is not an object")
}

/// The member names of the JSON object at `path` in `data`.
private func keys(_ data: Data, _ path: String...) throws -> Set<String> {
    Set(try object(data, path: path).keys)
}

/// Decodes, checks re-encoding then decoding gives the same value, and returns the value.
private func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ json: String) throws -> (T, Data) {
    let value = try decode(type, json)
    let encoded = try encode(value)
    #expect(try JSONDecoder().decode(type, from: encoded) == value)
    return (value, encoded)
}

// MARK: - config.json from real runtimes

@Suite("Runtime spec config.json")
struct RuntimeSpecConfigTests {
    @Test("runc spec output decodes, and re-encodes to the same JSON")
    func runcSpec() throws {
        let (spec, encoded) = try roundTrip(RuntimeSpec.self, RuntimeFixtures.runcSpec)
        #expect(try canonical(encoded) == canonical(RuntimeFixtures.runcSpec))

        #expect(spec.ociVersion == "1.0.2-dev")
        #expect(spec.hostname == "runc")
        #expect(spec.root == RuntimeSpec.Root(path: "rootfs", readonly: true))

        let process = try #require(spec.process)
        #expect(process.terminal == true)
        #expect(process.user == .init(uid: 0, gid: 0))
        #expect(process.args == ["sh"])
        #expect(process.cwd == "/")
        #expect(process.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"])
        #expect(process.noNewPrivileges == true)
        #expect(process.rlimits == [.init(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)])
        let caps = try #require(process.capabilities)
        #expect(caps.bounding == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
        #expect(caps.ambient == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
        #expect(caps.inheritable == nil)

        let mounts = try #require(spec.mounts)
        #expect(mounts.count == 7)
        #expect(mounts[0] == .init(destination: "/proc", type: "proc", source: "proc"))
        #expect(mounts[2].options == ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"])
        #expect(mounts.last?.destination == "/sys/fs/cgroup")

        let linux = try #require(spec.linux)
        #expect(linux.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount])
        #expect(linux.namespaces?.allSatisfy { $0.path == nil } == true)
        #expect(linux.resources?.devices == [.init(allow: false, access: "rwm")])
        #expect(linux.maskedPaths?.contains("/proc/kcore") == true)
        #expect(linux.readonlyPaths == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"])
        #expect(linux.seccomp == nil)
        #expect(spec.hooks == nil)
        #expect(spec.annotations == nil)
    }

    @Test("crun spec --rootless output decodes, and re-encodes to the same JSON")
    func crunSpecRootless() throws {
        let (spec, encoded) = try roundTrip(RuntimeSpec.self, RuntimeFixtures.crunSpecRootless)
        #expect(try canonical(encoded) == canonical(RuntimeFixtures.crunSpecRootless))

        #expect(spec.ociVersion == "1.0.0")
        #expect(spec.hostname == "crun")
        // crun writes an empty array; it must stay an empty array, not become absent.
        #expect(spec.process?.capabilities?.inheritable == [])
        let linux = try #require(spec.linux)
        #expect(linux.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .user, .mount])
        #expect(linux.uidMappings == nil)
        let devpts = try #require(spec.mounts?.first { $0.destination == "/dev/pts" })
        #expect(devpts.options == ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"])
    }

    @Test("runc spec --rootless output decodes, and re-encodes to the same JSON")
    func runcSpecRootless() throws {
        let (spec, encoded) = try roundTrip(RuntimeSpec.self, RuntimeFixtures.runcSpecRootless)
        #expect(try canonical(encoded) == canonical(RuntimeFixtures.runcSpecRootless))

        let linux = try #require(spec.linux)
        #expect(linux.namespaces?.map(\.type) == [.pid, .ipc, .uts, .mount, .user])
        #expect(linux.uidMappings == [.init(containerID: 0, hostID: 0, size: 1)])
        #expect(linux.gidMappings == [.init(containerID: 0, hostID: 0, size: 1)])
        #expect(linux.resources == nil)
        let sys = try #require(spec.mounts?.first { $0.destination == "/sys" })
        #expect(sys.type == "none")
        #expect(sys.source == "/sys")
        #expect(sys.options?.contains("rbind") == true)
    }

    @Test("runtime-spec's own example config decodes with every value in place")
    func runtimeSpecExample() throws {
        let (spec, encoded) = try roundTrip(RuntimeSpec.self, RuntimeFixtures.runtimeSpecExample)

        // Everything but the non-spec member `linux.resources.oomScoreAdj` is re-encoded.
        var original = try #require(
            JSONSerialization.jsonObject(with: Data(RuntimeFixtures.runtimeSpecExample.utf8)) as? [String: Any])
        var linux = try #require(original["linux"] as? [String: Any])
        var resources = try #require(linux["resources"] as? [String: Any])
        #expect(resources.removeValue(forKey: "oomScoreAdj") != nil)
        linux["resources"] = resources
        original["linux"] = linux
        #expect(try canonical(encoded) == canonical(JSONSerialization.data(withJSONObject: original)))

        #expect(spec.ociVersion == "0.5.0-dev")
        #expect(spec.domainname == "foobarbaz.test")
        let process = try #require(spec.process)
        #expect(process.user == .init(uid: 1, gid: 1, additionalGids: [5, 6]))
        #expect(process.apparmorProfile == "acme_secure_profile")
        #expect(process.selinuxLabel == "system_u:system_r:svirt_lxc_net_t:s0:c124,c675")
        #expect(process.capabilities?.effective == ["CAP_AUDIT_WRITE", "CAP_KILL"])
        #expect(process.rlimits?.map(\.type) == ["RLIMIT_CORE", "RLIMIT_NOFILE"])

        let hooks = try #require(spec.hooks)
        #expect(hooks.prestart?.count == 2)
        #expect(hooks.prestart?[0] == .init(path: "/usr/bin/fix-mounts", args: ["fix-mounts", "arg1", "arg2"],
                                            env: ["key1=value1"]))
        #expect(hooks.createRuntime?.count == 2)
        #expect(hooks.createContainer?.first?.path == "/usr/bin/mount-hook")
        #expect(hooks.startContainer == [.init(path: "/usr/bin/refresh-ldcache")])
        #expect(hooks.poststart == [.init(path: "/usr/bin/notify-start", timeout: 5)])
        #expect(hooks.poststop?.first?.args == ["cleanup.sh", "-f"])
        #expect(spec.annotations == ["com.example.key1": "value1", "com.example.key2": "value2"])

        let l = try #require(spec.linux)
        #expect(l.devices?.first == .init(path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666,
                                          uid: 0, gid: 0))
        #expect(l.uidMappings == [.init(containerID: 0, hostID: 1000, size: 32000)])
        #expect(l.sysctl?["net.core.somaxconn"] == "256")
        #expect(l.cgroupsPath == "/myRuntime/myContainer")
        #expect(l.rootfsPropagation == "slave")
        #expect(l.mountLabel == "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811")
        #expect(l.timeOffsets?["boottime"] == .init(secs: 604_800, nanosecs: 0))
        #expect(l.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount, .user, .cgroup, .time])

        let r = try #require(l.resources)
        #expect(r.network == .init(classID: 1_048_577, priorities: [.init(name: "eth0", priority: 500),
                                                                    .init(name: "eth1", priority: 1000)]))
        #expect(r.pids == .init(limit: 32771))
        #expect(r.hugepageLimits?.first == .init(pageSize: "2MB", limit: 9_223_372_036_854_772_000))
        #expect(r.memory == .init(limit: 536_870_912, reservation: 536_870_912, swap: 536_870_912, kernel: -1,
                                  kernelTCP: -1, swappiness: 0, disableOOMKiller: false, useHierarchy: false,
                                  checkBeforeUpdate: false))
        #expect(r.cpu == .init(shares: 1024, quota: 1_000_000, burst: 1_000_000, period: 500_000,
                               realtimeRuntime: 950_000, realtimePeriod: 1_000_000, cpus: "2-3", mems: "0-7"))
        #expect(r.devices?[1] == .init(allow: true, type: "c", major: 10, minor: 229, access: "rw"))
        let blockIO = try #require(r.blockIO)
        #expect(blockIO.weight == 10)
        #expect(blockIO.weightDevice?[0] == .init(major: 8, minor: 0, weight: 500, leafWeight: 300))
        #expect(blockIO.weightDevice?[1] == .init(major: 8, minor: 16, weight: 500))
        #expect(blockIO.throttleReadBpsDevice == [.init(major: 8, minor: 0, rate: 600)])
        #expect(blockIO.throttleWriteIOPSDevice == [.init(major: 8, minor: 16, rate: 300)])
        #expect(blockIO.throttleWriteBpsDevice == nil)

        #expect(l.seccomp == .init(defaultAction: .allow, architectures: [.x86, .x32],
                                   syscalls: [.init(names: ["getcwd", "chmod"], action: .errno)]))
    }

    @Test("every modelled Linux field decodes to its typed value and re-encodes to the same JSON")
    func everyLinuxField() throws {
        let (spec, encoded) = try roundTrip(RuntimeSpec.self, RuntimeFixtures.everyLinuxField)
        #expect(try canonical(encoded) == canonical(RuntimeFixtures.everyLinuxField))

        let p = try #require(spec.process)
        #expect(p.terminal == false)
        #expect(p.consoleSize == .init(height: 25, width: 80))
        #expect(p.user == .init(uid: 1000, gid: 1000, umask: 0o022, additionalGids: [10, 20]))
        #expect(p.cwd == "/work")
        #expect(p.rlimits == [.init(type: "RLIMIT_NOFILE", hard: .max, soft: 1_048_576)])
        #expect(p.oomScoreAdj == -998)
        #expect(p.scheduler == .init(policy: .deadline, nice: -5, priority: 0, flags: [.resetOnFork],
                                     runtime: 10_000_000, deadline: 20_000_000, period: 30_000_000))
        #expect(p.ioPriority == .init(class: .bestEffort, priority: 4))
        #expect(p.execCPUAffinity == .init(initial: "0", final: "1-3"))
        #expect(spec.root?.readonly == false)

        let idmap = RuntimeSpec.IDMapping(containerID: 0, hostID: 100_000, size: 65536)
        #expect(spec.mounts == [.init(destination: "/data", type: "bind", source: "/var/lib/kubelet/pods/x/volumes/data",
                                      options: ["rbind", "rprivate", "idmap"], uidMappings: [idmap],
                                      gidMappings: [idmap])])
        #expect(spec.hooks == .init(createRuntime: [.init(path: "/usr/libexec/oci/hooks.d/net", args: ["net", "up"],
                                                          env: ["A=b"], timeout: 10)]))

        let l = try #require(spec.linux)
        let r = try #require(l.resources)
        #expect(r.memory == .init(limit: .max, reservation: 134_217_728, swap: -1, kernelTCP: 67_108_864,
                                  swappiness: 60, disableOOMKiller: true, useHierarchy: true, checkBeforeUpdate: true))
        #expect(r.cpu?.quota == -1)
        #expect(r.cpu?.idle == 1)
        #expect(r.cpu?.cpus == "0-3,7")
        #expect(r.pids?.limit == -1)
        #expect(r.hugepageLimits == [.init(pageSize: "1GB", limit: 0)])
        #expect(r.network == .init(classID: 7))
        #expect(r.rdma == ["mlx5_1": .init(hcaHandles: 3, hcaObjects: 10000)])
        #expect(r.unified?["memory.high"] == "1073741824")

        #expect(l.cgroupsPath == "kubepods-besteffort.slice:fasco:abc")
        #expect(l.namespaces?[1] == .init(type: .network, path: "/var/run/netns/cni-1234"))
        #expect(l.devices?[1] == .init(path: "/dev/myfifo", type: "p"))
        #expect(l.netDevices == ["eth1": .init(name: "net1"), "ens5": .init()])

        let s = try #require(l.seccomp)
        #expect(s.defaultAction == .errno)
        #expect(s.defaultErrnoRet == 38)
        #expect(s.architectures == [.x86_64, .x86, .x32])
        #expect(s.flags == [.specAllow])
        #expect(s.listenerPath == "/run/seccomp-agent.sock")
        #expect(s.listenerMetadata == "MKNOD=/dev/null")
        #expect(s.syscalls?.count == 4)
        #expect(s.syscalls?[1].args == [.init(index: 0, value: 0xFFFF_FFFF, op: .equalTo)])
        #expect(s.syscalls?[2] == .init(names: ["clone"], action: .errno, errnoRet: 1,
                                        args: [.init(index: 0, value: 2_114_060_288, valueTwo: 0, op: .maskedEqual)]))
        #expect(s.syscalls?[3].action == .notify)

        #expect(l.intelRdt == .init(closID: "guaranteed_group", schemata: ["L3:0=7f0;1=1f", "MB:0=20;1=70"],
                                    l3CacheSchema: "L3:0=ffff", memBwSchema: "MB:0=50", enableMonitoring: true))
        #expect(l.memoryPolicy == .init(mode: .interleave, nodes: "2-3", flags: [.staticNodes]))
        #expect(l.personality == .init(domain: .linux32, flags: []))
        #expect(l.timeOffsets == ["monotonic": .init(secs: -3600, nanosecs: 500)])
    }

    @Test("unknown members are ignored and unknown values of spec-listed strings decode as-is")
    func unknownMembersAndValues() throws {
        let (spec, encoded) = try roundTrip(RuntimeSpec.self, RuntimeFixtures.unknownMembersAndValues)
        #expect(spec.ociVersion == "9.9.9")
        #expect(spec.process?.rlimits == [.init(type: "RLIMIT_FUTURE", hard: 1, soft: 1)])
        #expect(spec.process?.scheduler?.policy == "SCHED_EXT")
        #expect(spec.process?.scheduler?.flags == ["SCHED_FLAG_FUTURE"])
        #expect(spec.process?.ioPriority?.class.rawValue == "IOPRIO_CLASS_NONE")
        #expect(spec.root == .init(path: "rootfs"))
        let linux = try #require(spec.linux)
        #expect(linux.namespaces == [.init(type: .pid), .init(type: "futurens", path: "/proc/1/ns/futurens")])
        #expect(linux.seccomp?.defaultAction == "SCMP_ACT_FUTURE")
        #expect(linux.seccomp?.architectures == ["SCMP_ARCH_FUTURE64"])
        #expect(linux.seccomp?.flags == ["SECCOMP_FILTER_FLAG_FUTURE"])
        #expect(linux.seccomp?.syscalls?.first?.args?.first?.op == "SCMP_CMP_FUTURE")
        #expect(linux.memoryPolicy == .init(mode: "MPOL_FUTURE", flags: ["MPOL_F_FUTURE"]))
        #expect(linux.personality?.domain == "LINUX_FUTURE")
        #expect(linux.resources == .init(memory: .init(limit: 1)))

        // Unknown values survive re-encoding; unknown members (and non-Linux platforms) do not.
        #expect(try keys(encoded) == ["ociVersion", "process", "root", "linux"])
        #expect(try keys(encoded, "linux") == ["namespaces", "seccomp", "memoryPolicy", "personality", "resources"])
        #expect(try object(encoded, "linux", "namespaces", "1")["type"] as? String == "futurens")
        #expect(try object(encoded, "linux", "seccomp")["defaultAction"] as? String == "SCMP_ACT_FUTURE")
        #expect(try keys(encoded, "process", "user") == ["uid", "gid"])
    }

    @Test("members the spec requires must be present")
    func requiredMembers() {
        #expect(throws: DecodingError.self) { try decode(RuntimeSpec.self, #"{"root": {"path": "rootfs"}}"#) }
        #expect(throws: DecodingError.self) {
            try decode(RuntimeSpec.self, #"{"ociVersion": "1.2.0", "process": {"user": {"uid": 0, "gid": 0}}}"#)
        }
        #expect(throws: DecodingError.self) {
            try decode(RuntimeSpec.self, #"{"ociVersion": "1.2.0", "linux": {"namespaces": [{"path": "/x"}]}}"#)
        }
        #expect(throws: DecodingError.self) {
            try decode(RuntimeSpec.self, #"{"ociVersion": "1.2.0", "linux": {"seccomp": {"syscalls": []}}}"#)
        }
        // Wrong JSON types still fail: only string *values* are open.
        #expect(throws: DecodingError.self) {
            try decode(RuntimeSpec.self, #"{"ociVersion": "1.2.0", "linux": {"namespaces": [{"type": 1}]}}"#)
        }
        #expect(throws: DecodingError.self) {
            try decode(RuntimeSpec.self, #"{"ociVersion": "1.2.0", "process": {"user": {"uid": -1, "gid": 0}, "cwd": "/"}}"#)
        }
    }
}

// MARK: - Encoding

@Suite("Runtime spec encoding")
struct RuntimeSpecEncodingTests {
    @Test("a minimal spec encodes only its required members")
    func minimal() throws {
        let spec = RuntimeSpec(ociVersion: "1.2.1", root: .init(path: "rootfs"))
        let data = try encode(spec)
        #expect(try keys(data) == ["ociVersion", "root"])
        #expect(try keys(data, "root") == ["path"])
        #expect(try object(data)["ociVersion"] as? String == "1.2.1")

        let withProcess = RuntimeSpec(
            ociVersion: "1.2.1",
            process: .init(user: .init(uid: 0, gid: 0), cwd: "/"),
            linux: .init(resources: .init(), seccomp: .init(defaultAction: .allow)))
        let data2 = try encode(withProcess)
        #expect(try keys(data2) == ["ociVersion", "process", "linux"])
        #expect(try keys(data2, "process") == ["user", "cwd"])
        #expect(try keys(data2, "process", "user") == ["uid", "gid"])
        #expect(try keys(data2, "linux") == ["resources", "seccomp"])
        #expect(try keys(data2, "linux", "resources") == [])
        #expect(try keys(data2, "linux", "seccomp") == ["defaultAction"])
        // Optional zero values are still written when set.
        let data3 = try encode(RuntimeSpec.Root(path: "r", readonly: false))
        #expect(try canonical(data3) == canonical(#"{"path":"r","readonly":false}"#))
    }

    @Test("every member is written under the spec's exact JSON name")
    func exactKeyNames() throws {
        let idmap = RuntimeSpec.IDMapping(containerID: 0, hostID: 1000, size: 1)
        let hook = RuntimeSpec.Hook(path: "/h", args: ["h"], env: ["A=1"], timeout: 1)
        let spec = RuntimeSpec(
            ociVersion: "1.2.1",
            process: .init(
                terminal: true, consoleSize: .init(height: 1, width: 2),
                user: .init(uid: 1, gid: 2, umask: 0o22, additionalGids: [3], username: "u"),
                args: ["a"], commandLine: "a b", env: ["E=1"], cwd: "/",
                capabilities: .init(bounding: [], effective: [], inheritable: [], permitted: [], ambient: []),
                rlimits: [.init(type: "RLIMIT_NOFILE", hard: 1, soft: 1)], noNewPrivileges: true,
                apparmorProfile: "p", oomScoreAdj: 1,
                scheduler: .init(policy: .fifo, nice: 1, priority: 1, flags: [.reclaim], runtime: 1, deadline: 1, period: 1),
                selinuxLabel: "l", ioPriority: .init(class: .idle, priority: 7),
                execCPUAffinity: .init(initial: "0", final: "1")),
            root: .init(path: "rootfs", readonly: true),
            hostname: "h", domainname: "d",
            mounts: [.init(destination: "/m", type: "bind", source: "/s", options: ["rbind"], uidMappings: [idmap],
                           gidMappings: [idmap])],
            hooks: .init(prestart: [hook], createRuntime: [hook], createContainer: [hook], startContainer: [hook],
                         poststart: [hook], poststop: [hook]),
            annotations: ["k": "v"],
            linux: .init(
                uidMappings: [idmap], gidMappings: [idmap], sysctl: ["k": "v"],
                resources: .init(
                    devices: [.init(allow: true, type: "c", major: 1, minor: 3, access: "rwm")],
                    memory: .init(limit: 1, reservation: 1, swap: 1, kernel: 1, kernelTCP: 1, swappiness: 1,
                                  disableOOMKiller: true, useHierarchy: true, checkBeforeUpdate: true),
                    cpu: .init(shares: 1, quota: 1, burst: 1, period: 1, realtimeRuntime: 1, realtimePeriod: 1,
                               cpus: "0", mems: "0", idle: 0),
                    pids: .init(limit: 1),
                    blockIO: .init(weight: 1, leafWeight: 1, weightDevice: [.init(major: 8, minor: 0, weight: 1, leafWeight: 1)],
                                   throttleReadBpsDevice: [.init(major: 8, minor: 0, rate: 1)],
                                   throttleWriteBpsDevice: [.init(major: 8, minor: 0, rate: 1)],
                                   throttleReadIOPSDevice: [.init(major: 8, minor: 0, rate: 1)],
                                   throttleWriteIOPSDevice: [.init(major: 8, minor: 0, rate: 1)]),
                    hugepageLimits: [.init(pageSize: "2MB", limit: 1)],
                    network: .init(classID: 1, priorities: [.init(name: "eth0", priority: 1)]),
                    rdma: ["mlx": .init(hcaHandles: 1, hcaObjects: 1)],
                    unified: ["memory.high": "1"]),
                cgroupsPath: "/c",
                namespaces: [.init(type: .network, path: "/proc/1/ns/net")],
                devices: [.init(path: "/dev/x", type: "c", major: 1, minor: 1, fileMode: 0o666, uid: 0, gid: 0)],
                netDevices: ["eth1": .init(name: "eth9")],
                seccomp: .init(defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64], flags: [.log],
                               listenerPath: "/l", listenerMetadata: "m",
                               syscalls: [.init(names: ["read"], action: .allow, errnoRet: 1,
                                                args: [.init(index: 0, value: 1, valueTwo: 2, op: .notEqual)])]),
                rootfsPropagation: "private", maskedPaths: ["/m"], readonlyPaths: ["/r"], mountLabel: "ml",
                intelRdt: .init(closID: "c", schemata: ["L3:0=1"], l3CacheSchema: "L3:0=1", memBwSchema: "MB:0=1",
                                enableMonitoring: true, enableCMT: true, enableMBM: true),
                memoryPolicy: .init(mode: .bind, nodes: "0", flags: [.relativeNodes]),
                personality: .init(domain: .linux, flags: ["f"]),
                timeOffsets: ["monotonic": .init(secs: 1, nanosecs: 1)]))

        let data = try encode(spec)
        #expect(try JSONDecoder().decode(RuntimeSpec.self, from: data) == spec)

        #expect(try keys(data) == ["ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks",
                                   "annotations", "linux"])
        #expect(try keys(data, "process") == [
            "terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd", "capabilities", "rlimits",
            "noNewPrivileges", "apparmorProfile", "oomScoreAdj", "scheduler", "selinuxLabel", "ioPriority",
            "execCPUAffinity",
        ])
        #expect(try keys(data, "process", "consoleSize") == ["height", "width"])
        #expect(try keys(data, "process", "user") == ["uid", "gid", "umask", "additionalGids", "username"])
        #expect(try keys(data, "process", "capabilities") == ["bounding", "effective", "inheritable", "permitted", "ambient"])
        #expect(try keys(data, "process", "rlimits", "0") == ["type", "hard", "soft"])
        #expect(try keys(data, "process", "scheduler") == ["policy", "nice", "priority", "flags", "runtime", "deadline", "period"])
        #expect(try keys(data, "process", "ioPriority") == ["class", "priority"])
        #expect(try keys(data, "process", "execCPUAffinity") == ["initial", "final"])
        #expect(try keys(data, "root") == ["path", "readonly"])
        #expect(try keys(data, "mounts", "0") == ["destination", "type", "source", "options", "uidMappings", "gidMappings"])
        #expect(try keys(data, "mounts", "0", "uidMappings", "0") == ["containerID", "hostID", "size"])
        #expect(try keys(data, "hooks") == ["prestart", "createRuntime", "createContainer", "startContainer",
                                            "poststart", "poststop"])
        #expect(try keys(data, "hooks", "poststop", "0") == ["path", "args", "env", "timeout"])

        #expect(try keys(data, "linux") == [
            "uidMappings", "gidMappings", "sysctl", "resources", "cgroupsPath", "namespaces", "devices", "netDevices",
            "seccomp", "rootfsPropagation", "maskedPaths", "readonlyPaths", "mountLabel", "intelRdt", "memoryPolicy",
            "personality", "timeOffsets",
        ])
        #expect(try keys(data, "linux", "uidMappings", "0") == ["containerID", "hostID", "size"])
        #expect(try keys(data, "linux", "resources") == [
            "devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma", "unified",
        ])
        #expect(try keys(data, "linux", "resources", "devices", "0") == ["allow", "type", "major", "minor", "access"])
        #expect(try keys(data, "linux", "resources", "memory") == [
            "limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller", "useHierarchy",
            "checkBeforeUpdate",
        ])
        #expect(try keys(data, "linux", "resources", "cpu") == [
            "shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle",
        ])
        #expect(try keys(data, "linux", "resources", "pids") == ["limit"])
        #expect(try keys(data, "linux", "resources", "blockIO") == [
            "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
            "throttleReadIOPSDevice", "throttleWriteIOPSDevice",
        ])
        #expect(try keys(data, "linux", "resources", "blockIO", "weightDevice", "0") == ["major", "minor", "weight", "leafWeight"])
        #expect(try keys(data, "linux", "resources", "blockIO", "throttleWriteIOPSDevice", "0") == ["major", "minor", "rate"])
        #expect(try keys(data, "linux", "resources", "hugepageLimits", "0") == ["pageSize", "limit"])
        #expect(try keys(data, "linux", "resources", "network") == ["classID", "priorities"])
        #expect(try keys(data, "linux", "resources", "network", "priorities", "0") == ["name", "priority"])
        #expect(try keys(data, "linux", "resources", "rdma", "mlx") == ["hcaHandles", "hcaObjects"])
        #expect(try keys(data, "linux", "namespaces", "0") == ["type", "path"])
        #expect(try keys(data, "linux", "devices", "0") == ["path", "type", "major", "minor", "fileMode", "uid", "gid"])
        #expect(try keys(data, "linux", "netDevices", "eth1") == ["name"])
        #expect(try keys(data, "linux", "seccomp") == [
            "defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata", "syscalls",
        ])
        #expect(try keys(data, "linux", "seccomp", "syscalls", "0") == ["names", "action", "errnoRet", "args"])
        #expect(try keys(data, "linux", "seccomp", "syscalls", "0", "args", "0") == ["index", "value", "valueTwo", "op"])
        #expect(try keys(data, "linux", "intelRdt") == [
            "closID", "schemata", "l3CacheSchema", "memBwSchema", "enableMonitoring", "enableCMT", "enableMBM",
        ])
        #expect(try keys(data, "linux", "memoryPolicy") == ["mode", "nodes", "flags"])
        #expect(try keys(data, "linux", "personality") == ["domain", "flags"])
        #expect(try keys(data, "linux", "timeOffsets", "monotonic") == ["secs", "nanosecs"])

        // Spec-listed string values are written as bare strings.
        #expect(try object(data, "linux", "namespaces", "0")["type"] as? String == "network")
        #expect(try object(data, "linux", "seccomp")["defaultAction"] as? String == "SCMP_ACT_ERRNO")
        #expect(try object(data, "linux", "seccomp", "syscalls", "0", "args", "0")["op"] as? String == "SCMP_CMP_NE")
        #expect(try object(data, "process", "ioPriority")["class"] as? String == "IOPRIO_CLASS_IDLE")
        #expect(try object(data, "process", "scheduler")["policy"] as? String == "SCHED_FIFO")
        #expect(try object(data, "linux", "memoryPolicy")["mode"] as? String == "MPOL_BIND")
        #expect(try object(data, "linux", "personality")["domain"] as? String == "LINUX")
        #expect(try object(data, "linux", "devices", "0")["fileMode"] as? Int == 438)
    }

    @Test("64-bit extremes survive encoding")
    func numericRange() throws {
        let limits = RuntimeSpec.Linux.Resources(
            memory: .init(limit: .max, swap: -1), cpu: .init(shares: .max, quota: .min), pids: .init(limit: -1))
        let data = try encode(limits)
        #expect(try JSONDecoder().decode(RuntimeSpec.Linux.Resources.self, from: data) == limits)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("9223372036854775807"))
        #expect(text.contains("18446744073709551615"))
        #expect(text.contains("-9223372036854775808"))
        let rlimit = RuntimeSpec.Process.Rlimit(type: "RLIMIT_CORE", hard: .max, soft: .max)
        #expect(try decode(RuntimeSpec.Process.Rlimit.self, String(decoding: encode(rlimit), as: UTF8.self)) == rlimit)
    }
}

// MARK: - Spec-listed string values

@Suite("Open string values")
struct OpenStringTests {
    @Test("constants, literals and arbitrary strings compare by their raw value")
    func openStrings() throws {
        typealias Kind = RuntimeSpec.Linux.Namespace.Kind
        #expect(Kind.pid == "pid")
        #expect(Kind("network") == .network)
        #expect(Kind(rawValue: "time") == .time)
        #expect(Kind.cgroup.description == "cgroup")
        #expect([Kind.pid, .network, .mount, .ipc, .uts, .user, .cgroup, .time].map(\.rawValue)
                == ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"])
        #expect(Set<Kind>(["pid", .pid, "net"]).count == 2)
        #expect(try decode([Kind].self, #"["uts", "brand-new"]"#) == [.uts, "brand-new"])
        #expect(String(decoding: try encode([Kind.mount, "x"]), as: UTF8.self) == #"["mount","x"]"#)
        #expect(RuntimeSpec.Linux.Seccomp.Action.killProcess.rawValue == "SCMP_ACT_KILL_PROCESS")
        #expect(RuntimeSpec.Linux.Seccomp.Arch.aarch64.rawValue == "SCMP_ARCH_AARCH64")
        #expect(RuntimeSpec.Process.IOPriority.Class.realtime.rawValue == "IOPRIO_CLASS_RT")
    }

    @Test("the known capability names are the kernel's 41, in bit order")
    func capabilityNames() {
        let names = RuntimeSpec.Process.Capabilities.allKnownNames
        #expect(names.count == 41)
        #expect(Set(names).count == 41)
        #expect(names.first == "CAP_CHOWN")
        #expect(names[21] == "CAP_SYS_ADMIN")
        #expect(names.last == "CAP_CHECKPOINT_RESTORE")
        #expect(names.allSatisfy { $0.hasPrefix("CAP_") })
    }
}

// MARK: - State

@Suite("Runtime state")
struct RuntimeStateTests {
    @Test("runc state output decodes, running and stopped")
    func runcState() throws {
        let (running, _) = try roundTrip(RuntimeState.self, RuntimeFixtures.runcStateRunning)
        #expect(running == RuntimeState(
            ociVersion: "1.0.2-dev", id: "fascotest2", status: .running, pid: 6755, bundle: "/tmp/specgen/bundle",
            annotations: ["io.kubernetes.cri.container-type": "container"], rootfs: "/tmp/specgen/bundle/rootfs",
            created: "2026-11-22T05:08:46.244042474Z", owner: ""))
        let (stopped, _) = try roundTrip(RuntimeState.self, RuntimeFixtures.runcStateStopped)
        #expect(stopped.status == .stopped)
        #expect(stopped.pid == 0)
    }

    @Test("crun state output decodes, ignoring crun's systemd-scope")
    func crunState() throws {
        let (state, encoded) = try roundTrip(RuntimeState.self, RuntimeFixtures.crunState)
        #expect(state.ociVersion == "1.0.0")
        #expect(state.id == "k8s-pause-0123456789ab")
        #expect(state.status == .created)
        #expect(state.pid == 48211)
        #expect(state.bundle == "/run/fasco/containers/0123456789ab/bundle")
        #expect(state.rootfs == "/run/fasco/containers/0123456789ab/bundle/rootfs")
        #expect(state.created == "2025-03-04T10:11:12.123456789Z")
        #expect(state.owner == "root")
        #expect(state.annotations == ["io.kubernetes.cri.sandbox-id": "0123456789ab"])
        #expect(try keys(encoded) == ["ociVersion", "id", "status", "pid", "bundle", "annotations", "rootfs",
                                      "created", "owner"])
    }

    @Test("the spec's state example decodes, and a minimal state omits absent members")
    func specExampleAndMinimal() throws {
        let (state, encoded) = try roundTrip(RuntimeState.self, RuntimeFixtures.runtimeSpecStateExample)
        #expect(state == RuntimeState(ociVersion: "0.2.0", id: "oci-container1", status: .running, pid: 4422,
                                      bundle: "/containers/redis", annotations: ["myKey": "myValue"]))
        #expect(try canonical(encoded) == canonical(RuntimeFixtures.runtimeSpecStateExample))

        let creating = RuntimeState(ociVersion: "1.2.1", id: "c", status: .creating, bundle: "/b")
        #expect(try keys(encode(creating)) == ["ociVersion", "id", "status", "bundle"])
    }

    @Test("statuses a runtime adds decode as-is")
    func unknownStatus() throws {
        let state = try decode(RuntimeState.self, #"{"ociVersion":"1.0.2","id":"x","status":"paused","pid":1,"bundle":"/b"}"#)
        #expect(state.status == "paused")
        #expect(state.status != .running)
        #expect(throws: DecodingError.self) {
            try decode(RuntimeState.self, #"{"ociVersion":"1.0.2","id":"x","pid":1,"bundle":"/b"}"#)
        }
    }

    @Test("the seccomp agent's container process state decodes")
    func containerProcessState() throws {
        let json = #"""
        {
            "ociVersion": "1.0.2",
            "fds": ["seccompFd"],
            "pid": 4422,
            "metadata": "MKNOD=/dev/null,/dev/net/tun;BPF_MAP_TYPES=hash,array",
            "state": {
                "ociVersion": "1.0.2",
                "id": "oci-container1",
                "status": "creating",
                "pid": 4422,
                "bundle": "/containers/redis",
                "annotations": { "myKey": "myValue" }
            }
        }
        """#
        let (value, encoded) = try roundTrip(ContainerProcessState.self, json)
        #expect(value.fds == [ContainerProcessState.seccompFdName])
        #expect(value.pid == 4422)
        #expect(value.metadata == "MKNOD=/dev/null,/dev/net/tun;BPF_MAP_TYPES=hash,array")
        #expect(value.state.status == .creating)
        #expect(try canonical(encoded) == canonical(json))
    }
}
