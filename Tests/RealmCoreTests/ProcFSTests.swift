import FascoCore
import RealmCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Host facts: mountinfo and /proc files")
struct ProcFSTests {
    @Test("mountinfo: fields, octal escapes (space, tab, newline, backslash) unescaped, propagation tags")
    func mountInfo() throws {
        let text = #"""
            22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
            40 22 0:37 /sub\040dir /mnt/with\040space\011tab rw,nosuid master:3 shared:7 - tmpfs my\134source rw,size=1k
            41 22 0:38 / /mnt/new\012line\134 ro - tmpfs tmpfs ro
            garbage line
            1 2 3
            42 22 0:39 / /private rw - tmpfs tmpfs
            """#
        let mounts = MountInfo.parse(text)
        #expect(mounts.map(\.mountPoint) == ["/", "/mnt/with space\ttab", "/mnt/new\nline\\", "/private"])
        let escaped = try #require(mounts.dropFirst().first)
        #expect(escaped.mountID == 40 && escaped.parentID == 22)
        #expect(escaped.root == "/sub dir")
        #expect(escaped.mountOptions == ["rw", "nosuid"])
        #expect(escaped.optionalFields == ["master:3", "shared:7"])
        #expect(escaped.fileSystemType == "tmpfs")
        #expect(escaped.source == #"my\source"#)
        #expect(escaped.superOptions == ["rw", "size=1k"])
        #expect(escaped.isShared && escaped.isSlave)
        #expect(mounts[0].isShared && !mounts[0].isSlave)
        #expect(!mounts[3].isShared && !mounts[3].isSlave)
        #expect(mounts[3].superOptions == [], "no super options")
        #expect(MountInfo.parse(#"50 1 0:1 / /a\04 rw - tmpfs t rw"#).first?.mountPoint == #"/a\04"#, "a cut escape stays as it is")
        #expect(MountInfo.parse(#"50 1 0:1 / /a\999 rw - tmpfs t rw"#).first?.mountPoint == #"/a\999"#, "not octal")
    }

    @Test("the mount a path lives on: the longest mount point above it, the topmost of stacked ones")
    func mountContaining() {
        let mounts = MountInfo.parse("""
            1 0 0:1 / / rw shared:1 - ext4 /dev/vda rw
            2 1 0:2 / /var rw - tmpfs t rw
            3 1 0:3 / /var/lib rw master:2 - tmpfs t rw
            4 3 0:4 / /var/lib rw shared:4 - tmpfs t rw
            5 1 0:5 / /var/lib2 rw - tmpfs t rw
            """)
        #expect(MountInfo.mount(containing: "/var/lib/kubelet/pods", in: mounts)?.mountID == 4, "stacked: the later one")
        #expect(MountInfo.mount(containing: "/var/lib", in: mounts)?.mountID == 4)
        #expect(MountInfo.mount(containing: "/var/lib2/x", in: mounts)?.mountID == 5, "/var/lib is no parent of /var/lib2")
        #expect(MountInfo.mount(containing: "/var/libx", in: mounts)?.mountID == 2)
        #expect(MountInfo.mount(containing: "/etc", in: mounts)?.mountID == 1)
        #expect(MountInfo.mount(containing: "/etc", in: Array(mounts.dropFirst())) == nil)
    }

    @Test("stat: the state after the last ')', whatever the command name holds")
    func stat() {
        #expect(ProcFS.state(stat: "1234 (sleep) S 1 1234 1234 0 -1") == "S")
        #expect(ProcFS.state(stat: "1234 (a) Z (b) R 1 2") == "R", "a name with ') Z ('")
        #expect(ProcFS.state(stat: "1234 (x y)) Z 1") == "Z")
        #expect(ProcFS.state(stat: "1234 (cut") == nil)
        #expect(ProcFS.state(stat: "1234 (cut)") == nil)
        #expect(ProcFS.state(of: getpid()).map { "RS".contains($0) } == true, "this process, reading its own stat")
        #expect(ProcFS.state(of: Int32.max) == nil, "no such process")
    }

    @Test("status fields and cgroup lines")
    func statusAndCgroup() {
        let status = "Name:\tfasco\nPPid:\t  42 \nCapEff:\t000001ffffffffff\nCapEffX:\t1\n"
        #expect(ProcFS.field("PPid", status: status) == "42")
        #expect(ProcFS.field("CapEff", status: status) == "000001ffffffffff")
        #expect(ProcFS.field("Uid", status: status) == nil)
        #expect(ProcFS.read("status").flatMap { ProcFS.field("PPid", status: $0) } == Substring(String(getppid())))

        let lines = ProcFS.cgroups("12:memory:/fasco/pod\n3:cpu,cpuacct:/a:b\n1:name=systemd:/system.slice/x.scope\n0::/unified\nbroken\n")
        #expect(lines.count == 4)
        #expect(lines[0].has("memory") && lines[0].path == "/fasco/pod")
        #expect(lines[1].has("cpuacct") && !lines[1].has("cpu,cpuacct") && lines[1].path == "/a:b", "the path keeps its colons")
        #expect(lines[2].controllers == "name=systemd" && lines[2].has("name=systemd"))
        #expect(lines[3].isUnified && lines[3].path == "/unified")
        #expect(!lines[0].isUnified)

        #expect(ProcFS.number("-500\n") == -500)
        #expect(ProcFS.number(" 7 \n") == 7)
        #expect(ProcFS.number("x\n") == nil)
        #expect(ProcFS.number("") == nil)
    }
}
