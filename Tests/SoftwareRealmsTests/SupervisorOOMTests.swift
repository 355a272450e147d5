import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(
    "realm supervisor: OOM kills",
    .enabled(if: SupervisorFixture.available && runtimeAvailable(.runc), "needs root, fasco-realm, runc and busybox"))
struct SupervisorOOMTests {
    /// Runs `script` as a runc container with a 16 MiB memory (and memory+swap) limit through
    /// the realm and returns its exit; `killAfterStart` has runc SIGKILL it once started.
    private func run(_ script: String, in realm: RealmUnderTest, killAfterStart: Bool = false) async throws -> SupervisorExit {
        let id = uniqueID("oom")
        let bundle = try BusyboxBundle(id: id, args: ["sh", "-c", script])
        let runtime = try bundle.runtime(.runc)
        do {
            let configPath = bundle.bundle + "/config.json"
            let limit = 16 << 20
            let config = try #require(try readText(configPath)).replacing(
                #""resources": {}"#, with: #""resources": {"memory": {"limit": \#(limit), "swap": \#(limit)}}"#)
            try writeText(config, to: configPath)

            let pidFile = realm.path("\(id).pid")
            _ = try await realm.client.create(
                id: id, pidFile: pidFile, logPath: realm.path("\(id).log"),
                argv: ["runc", "--root", bundle.stateRoot, "create", "--bundle", bundle.bundle, "--pid-file", pidFile, id])
            let started = try await realmShell("runc --root \(bundle.stateRoot) start \(id) 2>&1")
            #expect(started.status == 0, "\(started.output)")
            if killAfterStart {
                let killed = try await realmShell("runc --root \(bundle.stateRoot) kill \(id) KILL 2>&1")
                #expect(killed.status == 0, "\(killed.output)")
            }
            let exit = try await realm.client.wait(id: id)
            #expect(try realm.client.persistedExit(id: id) == exit)
            await bundle.cleanUp(runtime)
            return exit
        } catch {
            await bundle.cleanUp(runtime)
            throw error
        }
    }

    @Test("a container that outgrows its memory limit is SIGKILLed by the OOM killer and reported as OOM")
    func oomKilled() async throws {
        try await withRealm { realm in
            // The shell doubles a string until the cgroup's limit is hit.
            let exit = try await run("x=a; while true; do x=$x$x; done", in: realm)
            #expect(exit.code == 137)
            #expect(exit.oom)
            let listed = try await realm.client.list()
            #expect(listed.count == 1 && listed.allSatisfy { $0.exit?.oom == true }, "\(listed)")
        }
    }

    @Test("a container that exits normally, or is killed by someone else, is no OOM")
    func notOOM() async throws {
        try await withRealm { realm in
            let normal = try await run("x=small; echo $x", in: realm)
            #expect(normal.code == 0)
            #expect(!normal.oom)
            let killed = try await run("sleep 30", in: realm, killAfterStart: true)
            #expect(killed.code == 137)
            #expect(!killed.oom)
        }
    }
}
