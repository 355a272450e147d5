import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(
    "realm supervisor: runc containers in the pod's shared PID namespace",
    .enabled(if: SupervisorFixture.available && runtimeAvailable(.runc), "needs root, fasco-realm, runc and busybox"))
struct SupervisorSharedPIDRuntimeTests {
    @Test("two containers share the namespace: B sees A's sleep, PID 1 is the pause child, both exits arrive")
    func twoContainers() async throws {
        try await withRealm(namespaces: .init(pid: true)) { realm in
            let pause = try #require(realm.process.pidNamespaceInit)
            let pod = namespaceLink(String(pause), "pid")
            let a = try SharedPIDContainer(realm: realm, label: "pid-a", args: ["sleep", "1000"])
            let b = try SharedPIDContainer(
                realm: realm, label: "pid-b",
                args: ["sh", "-c", #"for d in /proc/[0-9]*; do echo "proc ${d#/proc/} $(cat $d/comm)"; done; exit 3"#])
            do {
                let aPID = try await a.create()
                #expect(realm.children().contains { $0.pid == aPID }, "the container init is the supervisor's child")
                #expect(namespaceLink(String(aPID), "pid") == pod)
                let aInNamespace = try #require(procStatus(aPID, "NSpid")?.split(separator: " ").last.map(String.init))
                #expect(aInNamespace != "1" && procStatus(aPID, "NSpid")?.split(separator: " ").count == 2)
                try await a.start()
                #expect(try await realmEventually(timeout: .seconds(10)) { processName(aPID) == "sleep" })

                let bPID = try await b.create()
                #expect(realm.children().contains { $0.pid == bPID })
                #expect(namespaceLink(String(bPID), "pid") == pod)
                try await b.start()
                #expect(try await realm.client.wait(id: b.id).code == 3)
                let seen = Set(try realm.log(b.id).filter { $0.stream == "stdout" }.map(\.content))
                #expect(seen.contains("proc 1 fasco-pause"), "\(seen.sorted())")
                #expect(seen.contains("proc \(aInNamespace) sleep"), "\(seen.sorted())")

                // A is not PID 1 of its namespace: SIGTERM's default action applies.
                let killed = try await realmShell("runc --root \(a.bundle.stateRoot) kill \(a.id) TERM 2>&1")
                #expect(killed.status == 0, "\(killed.output)")
                #expect(try await realm.client.wait(id: a.id).code == 128 + SIGTERM)
                #expect(SupervisorProcess.isAlive(pause), "the namespace outlives its containers")
            } catch {
                await a.cleanUp()
                await b.cleanUp()
                throw error
            }
            await a.cleanUp()
            await b.cleanUp()
        }
    }

    @Test("orphans in the namespace are reaped by the pause child; shutdown leaves no process of it behind")
    func orphansAndShutdown() async throws {
        try await withRealm(namespaces: .init(pid: true)) { realm in
            let pause = try #require(realm.process.pidNamespaceInit)
            let pod = namespaceLink(String(pause), "pid")
            let a = try SharedPIDContainer(realm: realm, label: "pid-a", args: ["sleep", "1000"])
            let c = try SharedPIDContainer(realm: realm, label: "pid-c", args: ["sh", "-c", "sleep 1000 & sleep 1000 & exit 0"])
            do {
                let aPID = try await a.create()
                try await a.start()
                _ = try await c.create()
                try await c.start()
                #expect(try await realm.client.wait(id: c.id).code == 0)

                // C's two sleeps were orphaned inside the namespace: its init adopted them.
                var orphans: [pid_t] = []
                #expect(try await realmEventually(timeout: .seconds(10)) {
                    orphans = processes(inPIDNamespace: pod).filter { SupervisorProcess.parent(of: $0) == pause }
                    return orphans.count == 2
                })
                // One killed from outside: reaped by the pause child, so no zombie stays.
                let victim = try #require(orphans.first)
                #expect(kill(victim, SIGKILL) == 0)
                #expect(try await realmEventually(timeout: .seconds(10)) { !processExists(victim) })

                // Shutdown with A and one orphan still running.
                #expect(SupervisorProcess.isAlive(aPID))
                #expect(processes(inPIDNamespace: pod).count == 3, "pause, A and an orphan")
                try await realm.client.shutdown()
                #expect(try await realm.process.waitForExit(timeout: .seconds(10)))
                #expect(processes(inPIDNamespace: pod).isEmpty)
                #expect(!processExists(aPID))
                #expect(!processExists(pause))
            } catch {
                await a.cleanUp()
                await c.cleanUp()
                throw error
            }
            await a.cleanUp()
            await c.cleanUp()
        }
    }

    @Test("the pause child's death kills the namespace: its containers' exits are reported as SIGKILL")
    func pauseDeath() async throws {
        try await withRealm(namespaces: .init(pid: true)) { realm in
            let pause = try #require(realm.process.pidNamespaceInit)
            let a = try SharedPIDContainer(realm: realm, label: "pid-a", args: ["sleep", "1000"])
            do {
                _ = try await a.create()
                try await a.start()
                #expect(kill(pause, SIGKILL) == 0)
                #expect(try await realm.client.wait(id: a.id).code == 128 + SIGKILL)
                #expect(try await realmEventually(timeout: .seconds(10)) { !FileSystem.exists(realm.path("pidns-pid")) })
            } catch {
                await a.cleanUp()
                throw error
            }
            await a.cleanUp()
        }
    }
}

/// A busybox runc container created through the realm's supervisor in the realm's PID
/// namespace (its other namespaces its own).
private struct SharedPIDContainer {
    let realm: RealmUnderTest
    let bundle: BusyboxBundle
    var id: String { bundle.id }

    init(realm: RealmUnderTest, label: String, args: [String]) throws {
        self.realm = realm
        bundle = try BusyboxBundle(id: uniqueID(label), args: args)
        guard let path = realm.process.pidNamespacePath else { throw FascoError.failedPrecondition("the realm has no PID namespace") }
        let configPath = bundle.bundle + "/config.json"
        guard let config = try readText(configPath) else { throw FascoError.notFound(configPath) }
        let joined = config.replacingOccurrences(of: #"{"type": "pid"}"#, with: #"{"type": "pid", "path": \#(jsonString(path))}"#)
        guard joined != config else { throw FascoError.internal("no pid namespace in the bundle's config") }
        try writeText(joined, to: configPath)
    }

    func create() async throws -> pid_t {
        let pidFile = realm.path("\(id).pid")
        return try await realm.client.create(
            id: id, pidFile: pidFile, logPath: realm.path("\(id).log"),
            argv: ["runc", "--root", bundle.stateRoot, "create", "--bundle", bundle.bundle, "--pid-file", pidFile, id])
    }

    func start() async throws {
        let started = try await realmShell("runc --root \(bundle.stateRoot) start \(id) 2>&1")
        guard started.status == 0 else { throw FascoError.internal("runc start \(id): \(started.output)") }
    }

    func cleanUp() async {
        await bundle.cleanUp(try? bundle.runtime(.runc))
    }
}
