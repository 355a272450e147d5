import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(
    "realm supervisor with a real runtime",
    .enabled(if: SupervisorFixture.available && runtimeAvailable(.runc), "needs root, fasco-realm, runc and busybox"))
struct SupervisorRuntimeTests {
    @Test("runc create through the supervisor: the container joins the realm's namespaces, its output and exit arrive")
    func runcContainer() async throws {
        try await withRealm(hostname: "pod-host") { realm in
            let id = uniqueID("realm")
            let bundle = try BusyboxBundle(id: id, args: ["sh", "-c", "cat /proc/sys/kernel/hostname; echo to-stderr >&2; exit 9"])
            let runtime = try bundle.runtime(.runc)
            do {
                // Join the realm's network, IPC and UTS namespaces (and keep its hostname).
                let configPath = bundle.bundle + "/config.json"
                var config = try #require(try readText(configPath))
                for name in ["network": "net", "ipc": "ipc", "uts": "uts"] {
                    config = config.replacingOccurrences(
                        of: #"{"type": "\#(name.key)"}"#,
                        with: #"{"type": "\#(name.key)", "path": "\#(realm.process.namespacePath(name.value))"}"#)
                }
                config = config.replacingOccurrences(of: #""hostname": "fasco-test","#, with: "")
                try writeText(config, to: configPath)

                let pidFile = realm.path("\(id).pid")
                let pid = try await realm.client.create(
                    id: id, pidFile: pidFile, logPath: realm.path("\(id).log"),
                    argv: ["runc", "--root", bundle.stateRoot, "create", "--bundle", bundle.bundle, "--pid-file", pidFile, id])
                #expect(realm.children().contains { $0.pid == pid }, "the container init is the supervisor's child")
                #expect(namespaceLink(String(pid), "net") == namespaceLink(String(realm.pid), "net"))

                let started = try await realmShell("runc --root \(bundle.stateRoot) start \(id) 2>&1")
                #expect(started.status == 0, "\(started.output)")
                let exit = try await realm.client.wait(id: id)
                #expect(exit.code == 9)
                let lines = try realm.log(id).map { "\($0.stream) \($0.tag) \($0.content)" }
                #expect(lines.sorted() == ["stderr F to-stderr", "stdout F pod-host"])
            } catch {
                await bundle.cleanUp(runtime)
                throw error
            }
            await bundle.cleanUp(runtime)
        }
    }
}
