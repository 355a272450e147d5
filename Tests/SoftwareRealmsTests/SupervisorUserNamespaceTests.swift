import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("realm supervisor: the pod's user namespace", .enabled(if: SupervisorFixture.available, "needs root and the fasco-realm binary"))
struct SupervisorUserNamespaceTests {
    static let user = SupervisorProcess.UserNamespace(
        uids: [.init(containerID: 0, hostID: 1000, size: 100000)], gids: [.init(containerID: 0, hostID: 2000, size: 65536)])

    @Test("--userns: the pause child holds a mapped user namespace owning the pod's net, ipc and uts; the supervisor stays in the host's", arguments: [false, true])
    func holder(pid: Bool) async throws {
        try await withRealm(namespaces: .init(pid: pid, user: Self.user)) { realm in
            let holder = try #require(realm.process.userNamespaceHolder)
            #expect(try readText(realm.path("userns-pid")) == "\(holder)\n")
            #expect(FileSystem.exists(realm.path("pidns-pid")) == pid)
            #expect(realm.process.pidNamespaceInit == (pid ? holder : nil))
            #expect(SupervisorProcess.parent(of: holder) == realm.pid)
            #expect(realm.process.userNamespacePath == "/proc/\(holder)/ns/user")
            #expect(realm.process.namespacePath("net") == "/proc/\(holder)/ns/net")
            #expect(try readText("/proc/\(holder)/uid_map")?.split(whereSeparator: \.isWhitespace) == ["0", "1000", "100000"])
            #expect(try readText("/proc/\(holder)/gid_map")?.split(whereSeparator: \.isWhitespace) == ["0", "2000", "65536"])

            let hostUser = namespaceLink("self", "user")
            #expect(namespaceLink(String(realm.pid), "user") == hostUser, "the supervisor stays in the host's user namespace")
            #expect(namespaceLink(String(holder), "user") != hostUser)
            for name in ["net", "ipc", "uts"] {
                #expect(namespaceLink(String(realm.pid), name) == namespaceLink("self", name), "the supervisor makes no \(name) namespace")
                #expect(namespaceLink(String(holder), name) != namespaceLink("self", name), "the holder has its own \(name)")
            }
            // Made after the maps, by the holder: owned by the pod's user namespace, hostname set, lo up.
            let (status, output) = try await realmShell(
                "nsenter -t \(holder) -U -u -n sh -c 'hostname; cat /sys/class/net/lo/flags 2>/dev/null || ip -o link show lo'")
            #expect(status == 0, "\(output)")
            #expect(output.hasPrefix("realm-test\n"), "\(output)")
            #expect(output.contains("UP") || output.contains("0x9"), "lo is up: \(output)")

            let attached = try #require(try SupervisorProcess.attach(directory: realm.directory))
            #expect(attached == realm.process)

            try await realm.client.shutdown()
            #expect(try await realm.process.waitForExit(timeout: .seconds(10)))
            #expect(!processExists(holder))
            #expect(!FileSystem.exists(realm.path("userns-pid")))
        }
    }

    @Test("mappings the kernel refuses (overlapping) fail the launch and leave no process")
    func refusedMapping() async throws {
        let binary = try #require(SupervisorFixture.binary)
        let directory = try RealmUnderTest.makeDirectory()
        defer { try? FileSystem.removeTree(directory) }
        let overlapping = SupervisorProcess.UserNamespace(
            uids: [.init(containerID: 0, hostID: 1000, size: 100), .init(containerID: 50, hostID: 5000, size: 100)],
            gids: [.init(containerID: 0, hostID: 1000, size: 100)])
        do {
            _ = try await SupervisorProcess.launch(binary: binary, directory: directory, hostname: nil, namespaces: .init(user: overlapping))
            Issue.record("an overlapping uid_map was accepted")
        } catch {
            #expect(error.description.contains("uid_map"), "\(error)")
        }
        #expect(!FileSystem.exists("\(directory)/pid"))
        #expect(!FileSystem.exists("\(directory)/userns-pid"))
        await #expect(throws: FascoError.self) {
            _ = try await SupervisorProcess.launch(
                binary: binary, directory: directory, hostname: nil,
                namespaces: .init(user: .init(uids: [.init(containerID: 0, hostID: 1, size: 0)], gids: [])))
        }
    }
}
