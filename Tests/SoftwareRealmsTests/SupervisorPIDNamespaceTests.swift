import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("realm supervisor: the pod's shared PID namespace", .enabled(if: SupervisorFixture.available, "needs root and the fasco-realm binary"))
struct SupervisorPIDNamespaceTests {
    @Test("--new-pidns: a pause child is PID 1 of a new namespace; the supervisor and its runtimes stay in the host's")
    func pauseChild() async throws {
        try await withRealm(namespaces: .init(pid: true)) { realm in
            let pause = try #require(realm.process.pidNamespaceInit)
            #expect(realm.process.pidNamespacePath == "/proc/\(pause)/ns/pid")
            #expect(try readText(realm.path("pidns-pid")) == "\(pause)\n")
            #expect(SupervisorProcess.parent(of: pause) == realm.pid)
            #expect(processName(pause) == "fasco-pause")
            #expect(procStatus(pause, "NSpid") == "\(pause) 1", "PID 1 of its own namespace")

            let host = namespaceLink("self", "pid")
            let pod = namespaceLink(String(pause), "pid")
            #expect(!pod.isEmpty && pod != host)
            #expect(namespaceLink(String(realm.pid), "pid") == host)
            #expect(namespaceLink(String(realm.pid), "pid_for_children") == host, "runtimes are spawned in the host's namespace")
            for name in ["net", "ipc", "uts"] {
                #expect(namespaceLink(String(pause), name) == namespaceLink(String(realm.pid), name), "\(name)")
            }

            // Something the supervisor runs (a runtime) is in the host's namespace.
            let go = realm.path("go")
            let child = try await realm.createContainer("host-side", script: "while [ ! -e \(go) ]; do sleep 0.01; done\n")
            #expect(namespaceLink(String(child), "pid") == host)
            try FileSystem.writeAtomically([], to: go)
            #expect(try await realm.client.wait(id: "host-side").code == 0)

            // Every signal but SIGKILL and SIGSTOP is blocked: a SIGTERM stays pending.
            #expect(kill(pause, SIGTERM) == 0)
            let pending = try #require(procStatus(pause, "ShdPnd").flatMap { UInt64($0, radix: 16) })
            #expect(pending & (1 << (UInt64(SIGTERM) - 1)) != 0)
            #expect(SupervisorProcess.isAlive(pause))

            // A restarted daemon finds the namespace again.
            let attached = try #require(try SupervisorProcess.attach(directory: realm.directory))
            #expect(attached == realm.process)
            #expect(attached.pidNamespacePath == realm.process.pidNamespacePath)

            try await realm.client.shutdown()
            #expect(try await realm.process.waitForExit(timeout: .seconds(10)))
            #expect(!processExists(pause))
            #expect(!FileSystem.exists(realm.path("pidns-pid")))
        }
    }

    @Test("without --new-pidns there is no pause child, and a pidns-pid left behind is removed")
    func noPIDNamespace() async throws {
        try await withRealm { realm in
            #expect(realm.process.pidNamespaceInit == nil)
            #expect(realm.process.pidNamespacePath == nil)
            #expect(realm.children().isEmpty)
            #expect(!FileSystem.exists(realm.path("pidns-pid")))
        }
        let binary = try #require(SupervisorFixture.binary)
        let directory = try RealmUnderTest.makeDirectory()
        try writeText("1\n", to: "\(directory)/pidns-pid")
        let process = try await SupervisorProcess.launch(binary: binary, directory: directory, hostname: nil)
        let realm = RealmUnderTest(directory: directory, process: process)
        #expect(process.pidNamespaceInit == nil)
        #expect(!FileSystem.exists(realm.path("pidns-pid")))
        // Nor does attach believe a pidns-pid naming a process that is not the supervisor's child.
        try writeText("1\n", to: realm.path("pidns-pid"))
        #expect(try SupervisorProcess.attach(directory: directory)?.pidNamespaceInit == nil)
        await realm.finish()
    }

    @Test("a supervisor killed with SIGKILL takes its pause child along")
    func parentDeath() async throws {
        let realm = try await RealmUnderTest.launch(namespaces: .init(pid: true))
        let pause = try #require(realm.process.pidNamespaceInit)
        #expect(kill(realm.pid, SIGKILL) == 0)
        #expect(try await realm.process.waitForExit(timeout: .seconds(10)))
        #expect(try await realmEventually(timeout: .seconds(10)) { !SupervisorProcess.isAlive(pause) })
        #expect(try SupervisorProcess.attach(directory: realm.directory) == nil)
        await realm.finish()
    }

    @Test("the pause child's unexpected death is logged, its pidns-pid removed and later creates refused")
    func pauseDeath() async throws {
        try await withRealm(namespaces: .init(pid: true)) { realm in
            let pause = try #require(realm.process.pidNamespaceInit)
            #expect(kill(pause, SIGKILL) == 0)
            #expect(try await realmEventually(timeout: .seconds(10)) { !FileSystem.exists(realm.path("pidns-pid")) })
            #expect(!processExists(pause), "reaped by the supervisor")
            do {
                _ = try await realm.createContainer("late", script: "exit 0\n")
                Issue.record("a create succeeded in a realm whose PID namespace is gone")
            } catch {
                #expect(FascoError.Code.failedPrecondition.matches(error), "\(error)")
            }
            let log = try readText(realm.path("supervisor.log")) ?? ""
            #expect(log.contains("PID namespace init (pid \(pause)) was killed by signal 9"), "\(log)")
            #expect(try await realm.client.list().isEmpty, "still serving")
            #expect(try SupervisorProcess.attach(directory: realm.directory)?.pidNamespaceInit == nil)
        }
    }
}
