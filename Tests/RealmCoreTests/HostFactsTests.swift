import FascoCore
import OCISpec
import RealmCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Host facts: capabilities, devices, names")
struct HostFactsTests {
    let known = RuntimeSpec.Process.Capabilities.allKnownNames

    @Test("CapEff: bit N is capability N; unknown bits are left out; no or a bad line is nil")
    func capEff() {
        #expect(HostFacts.capabilities(status: "Name:\tx\nCapEff:\t0000000000000020\n") == ["CAP_KILL"])
        #expect(HostFacts.capabilities(status: "CapEff:\t0000000000000000\n") == [])
        #expect(HostFacts.capabilities(status: "CapEff:\t000001ffffffffff\n") == known, "bits 0-40: all 41")
        // This host's root: everything but CAP_SYS_RESOURCE (bit 24).
        #expect(HostFacts.capabilities(status: "CapEff:\t000001fffeffffff\n") == known.filter { $0 != "CAP_SYS_RESOURCE" })
        #expect(HostFacts.capabilities(status: "CapEff:\t8000000000000001\n") == ["CAP_CHOWN"], "bit 63 names nothing known")
        #expect(HostFacts.capabilities(status: "CapInh:\t0000000000000020\nCapEff:\t0000000000000001\n") == ["CAP_CHOWN"])
        #expect(HostFacts.capabilities(status: "CapEff:\tzz\n") == nil)
        #expect(HostFacts.capabilities(status: "CapPrm:\t0000000000000020\n") == nil)
    }

    @Test("this process's effective set is its CapEff, read from /proc/self/status")
    func effectiveCapabilities() throws {
        let current = HostFacts.effectiveCapabilities()
        let status = String(decoding: try FileSystem.read("/proc/self/status") ?? [], as: UTF8.self)
        let line = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        let mask = line.flatMap { UInt64($0.dropFirst(7).drop { $0 == "\t" || $0 == " " }, radix: 16) } ?? 0
        #expect(current == known.enumerated().filter { mask & (UInt64(1) << UInt64($0.offset)) != 0 }.map(\.element))
        if getuid() == 0 { #expect(current.contains("CAP_CHOWN")) }
    }

    @Test("the host's name and kernel release, as gethostname(2) and uname(2) tell them")
    func names() {
        #expect(!HostFacts.systemHostname().isEmpty, "gethostname(2)")
        var names = utsname()
        uname(&names)
        let nodename = withUnsafeBytes(of: names.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #expect(HostFacts.systemHostname() == nodename)
        #expect(HostFacts.systemKernelRelease().first?.isNumber == true)
        let current = HostFacts.current()
        #expect(current.hostname == nodename && current.kernelRelease == HostFacts.systemKernelRelease())
    }

    @Test("device nodes: type, major and minor decoded from st_rdev (large numbers too), mode bits kept")
    func devices() throws {
        let null = HostDevice(mode: UInt32(S_IFCHR) | 0o666, rdev: UInt64(1 << 8 | 3), uid: 0, gid: 5)
        #expect(null == HostDevice(type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 5))
        // makedev(259, 70000): minor bits 0-7 and 20-31, major bits 8-19 and 32-43.
        let rdev = UInt64(70000 & 0xFF) | UInt64(259 & 0xFFF) << 8 | UInt64(70000 >> 8) << 20 | UInt64(259 >> 12) << 32
        #expect(HostDevice(mode: UInt32(S_IFBLK) | 0o4660, rdev: rdev, uid: 1, gid: 2)
            == HostDevice(type: "b", major: 259, minor: 70000, fileMode: 0o4660, uid: 1, gid: 2))
        #expect(HostDevice(mode: UInt32(S_IFREG) | 0o644, rdev: 0, uid: 0, gid: 0) == nil)
        #expect(HostDevice(mode: UInt32(S_IFDIR) | 0o755, rdev: 0, uid: 0, gid: 0) == nil)
        // A node of its own (the host's /dev/null is shared with every test running meanwhile).
        let directory = try FileSystem.makeTemporaryDirectory(prefix: "fasco-devices-")
        defer { try? FileSystem.removeTree(directory) }
        try #require(mknod(directory + "/null", S_IFCHR | 0o640, (1 << 8) | 3) == 0, "mknod: \(errno)")
        try #require(chown(directory + "/null", 7, 8) == 0 && chmod(directory + "/null", 0o640) == 0)
        #expect(try LocalHostFiles().device(at: directory + "/null")?.spec(path: "/dev/x")
            == .init(path: "/dev/x", type: "c", major: 1, minor: 3, fileMode: 0o640, uid: 7, gid: 8))
        #expect(try LocalHostFiles().device(at: "/proc/self/status") == nil)
        #expect(throws: FascoError.self) { try LocalHostFiles().device(at: "/dev/no-such-device-fasco") }
    }
}

@Suite("Host facts: user namespace ID maps")
struct UserNamespaceMapTests {
    @Test("uid_map lines as the kernel pads them; root is the line that maps ID 0")
    func parse() {
        let text = "         0       1000     100000\n    100000     500000          1\n"
        let mappings = UserNamespaceMap.parse(text)
        #expect(mappings == [.init(containerID: 0, hostID: 1000, size: 100000), .init(containerID: 100000, hostID: 500000, size: 1)])
        #expect(UserNamespaceMap.rootHostID(mappings) == 1000)
        #expect(UserNamespaceMap.rootHostID(UserNamespaceMap.parse("1 2000 10\n0\t3000\t1\n")) == 3000, "not the first line, tabs too")
        #expect(UserNamespaceMap.parse("0 x 1000 1\n0 1000\n-1 0 1\n0 1 2 3\n").isEmpty, "only three numbers make a line")
        #expect(UserNamespaceMap.rootHostID(UserNamespaceMap.parse("0 1000 0\n1 0 10\n")) == nil, "an empty range maps nothing")
        #expect(UserNamespaceMap.rootHostID([]) == nil)
    }

    @Test("root of a live namespace: this process's (the initial one maps 0 to 0); a gone one is FAILED_PRECONDITION")
    func live() throws {
        let uidMap = String(decoding: try FileSystem.read("/proc/self/uid_map") ?? [], as: UTF8.self)
        let gidMap = String(decoding: try FileSystem.read("/proc/self/gid_map") ?? [], as: UTF8.self)
        let root = try UserNamespaceMap.root(ofUserNamespace: "/proc/self/ns/user")
        #expect(root.uid == UserNamespaceMap.rootHostID(UserNamespaceMap.parse(uidMap)))
        #expect(root.gid == UserNamespaceMap.rootHostID(UserNamespaceMap.parse(gidMap)))
        let gone = #expect(throws: FascoError.self) { try UserNamespaceMap.root(ofUserNamespace: "/proc/2147483647/ns/user") }
        #expect(gone?.code == .failedPrecondition)
        let wrong = #expect(throws: FascoError.self) { try UserNamespaceMap.root(ofUserNamespace: "/proc/self/ns/net") }
        #expect(wrong?.code == .internal)
    }
}
