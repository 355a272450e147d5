import FascoCore
import Logging
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("realm supervisor lifecycle", .enabled(if: SupervisorFixture.available, "needs root and the fasco-realm binary"))
struct SupervisorLifecycleTests {
    @Test("a dropped client loses nothing: a new client lists and waits; several waiters all get the exit")
    func reconnect() async throws {
        try await withRealm { realm in
            let go = realm.path("go")
            let pid = try await realm.createContainer("held", script: "while [ ! -e \(go) ]; do sleep 0.01; done\nexit 7\n")

            // A waiter whose task is cancelled drops its connection.
            let abandoned = Task { try await realm.client.wait(id: "held") }
            try await Task.sleep(for: .milliseconds(50))
            abandoned.cancel()
            await #expect(throws: FascoError.self) { _ = try await abandoned.value }

            // A new client (a restarted daemon) finds the supervisor and its container.
            let attached = try #require(try SupervisorProcess.attach(directory: realm.directory))
            #expect(attached.pid == realm.pid)
            let client = SupervisorClient(directory: realm.directory)
            #expect(try await client.list() == [SupervisorContainer(id: "held", pid: pid, state: .running, exit: nil)])

            async let first = client.wait(id: "held")
            async let second = SupervisorClient(directory: realm.directory).wait(id: "held")
            try await Task.sleep(for: .milliseconds(50))
            try FileSystem.writeAtomically([], to: go)
            let (a, b) = try await (first, second)
            #expect(a.code == 7)
            #expect(a == b)
        }
    }

    @Test("the supervisor outlives its parent")
    func outlivesParent() async throws {
        let binary = try #require(SupervisorFixture.binary)
        let directory = try RealmUnderTest.makeDirectory()
        // A short-lived intermediate parent, gone as soon as the supervisor is started.
        let process = try await SupervisorProcess.launch(
            executable: "/bin/sh", arguments: ["-c", #""$0" --dir "$1" --hostname orphan & exit 0"#, binary, directory],
            directory: directory, timeout: .seconds(10), logger: Logger(label: "test"))
        let realm = RealmUnderTest(directory: directory, process: process)
        do {
            let status = try FileSystem.read("/proc/\(process.pid)/status").map { String(decoding: $0, as: UTF8.self) } ?? ""
            let parent = status.split(separator: "\n").first { $0.hasPrefix("PPid:") }?.split(separator: "\t").last.flatMap { pid_t($0) }
            #expect(parent != nil && parent != getpid(), "reparented away from its dead parent: \(String(describing: parent))")
            #expect(SupervisorProcess.isAlive(process.pid))

            _ = try await realm.createContainer("after", script: "echo still serving\n")
            #expect(try await realm.client.wait(id: "after").code == 0)
            #expect(try realm.log("after").map(\.content) == ["still serving"])
            try await realm.client.shutdown()
            #expect(try await process.waitForExit(timeout: .seconds(10)))
        } catch {
            await realm.finish()
            throw error
        }
        await realm.finish()
    }

    @Test("a served directory refuses a second supervisor; a killed one's socket is replaced; bad launches are clear errors")
    func relaunch() async throws {
        let binary = try #require(SupervisorFixture.binary)
        try await withRealm { realm in
            do {
                _ = try await SupervisorProcess.launch(binary: binary, directory: realm.directory, hostname: nil)
                Issue.record("a second supervisor started on a served directory")
            } catch {
                #expect((error as? FascoError)?.message.contains("another supervisor serves") == true, "\(error)")
            }
            #expect(try SupervisorProcess.readPID(directory: realm.directory) == realm.pid)
            #expect(try await realm.client.list().isEmpty)

            // Killed without a chance to clean up: the socket and pid file stay behind.
            #expect(kill(realm.pid, SIGKILL) == 0)
            #expect(try await realm.process.waitForExit(timeout: .seconds(10)))
            #expect(FileSystem.exists(realm.path("control.sock")))
            #expect(try SupervisorProcess.attach(directory: realm.directory) == nil)
            do {
                _ = try await realm.client.list()
                Issue.record("list reached a dead supervisor")
            } catch {
                #expect((error as? FascoError)?.code == .unavailable)
            }
            try await realm.client.shutdown()  // nothing listens: already shut down

            let again = try await SupervisorProcess.launch(binary: binary, directory: realm.directory, hostname: nil)
            #expect(again.pid != realm.pid)
            #expect(try await again.client.list().isEmpty)
            try await again.client.shutdown()
            #expect(try await again.waitForExit())
        }

        do {
            _ = try await SupervisorProcess.launch(binary: binary, directory: "/nonexistent/realm", hostname: nil)
            Issue.record("launched without a directory")
        } catch {
            #expect(error.code == .notFound)
        }
        do {
            _ = try await SupervisorProcess.launch(binary: binary, directory: "/tmp", hostname: String(repeating: "h", count: 65))
            Issue.record("accepted a 65-byte hostname")
        } catch {
            #expect(error.code == .invalidArgument)
        }
    }

    @Test("shutdown kills and reaps every process of the realm, answers waiters and removes the socket")
    func shutdown() async throws {
        let realm = try await RealmUnderTest.launch()
        do {
            // The runtime leaves an untracked orphan as well; the container has a child of its own.
            let orphanFile = realm.path("orphan.pid")
            let pid = try await realm.createContainer(
                "long", script: "sleep 30 &\necho $! > \(realm.path("child.pid"))\nwait\n",
                runtimePrefix: "sleep 30 & echo $! > \(orphanFile); ")
            #expect(try await realmEventually { FileSystem.exists(realm.path("child.pid")) })
            let orphan = try #require(try readPID(orphanFile))
            let child = try #require(try readPID(realm.path("child.pid")))
            #expect(Set(realm.children().map(\.pid)).isSuperset(of: [pid, orphan]))

            let waiter = Task { try await realm.client.wait(id: "long") }
            try await Task.sleep(for: .milliseconds(50))
            try await realm.client.shutdown()
            // A waiter that got its request in is answered; on a loaded machine it may not have
            // connected before the socket went away, and then the persisted exit is what it learns.
            let exit: SupervisorExit
            do {
                exit = try await waiter.value
            } catch let error as FascoError where error.cause is SupervisorConnection.NotRunning {
                exit = try #require(try SupervisorExit.persisted(directory: realm.directory, id: "long"))
            }
            #expect(exit.code == 137)

            #expect(!FileSystem.exists(realm.path("control.sock")))
            #expect(!FileSystem.exists(realm.path("pid")))
            #expect(try await realm.process.waitForExit(timeout: .seconds(10)))
            #expect(!processExists(realm.pid))
            for gone in [pid, orphan, child] { #expect(!processExists(gone), "process \(gone) survived") }
            #expect(try SupervisorExit.persisted(directory: realm.directory, id: "long") == exit)
            // Shutting down what is not running is not an error.
            try await realm.client.shutdown()
        } catch {
            await realm.finish()
            throw error
        }
        await realm.finish()
    }

    @Test("SIGTERM shuts the supervisor down like the shutdown command")
    func terminate() async throws {
        let realm = try await RealmUnderTest.launch()
        do {
            let pid = try await realm.createContainer("t", script: "sleep 30\n")
            #expect(kill(realm.pid, SIGTERM) == 0)
            #expect(try await realm.process.waitForExit(timeout: .seconds(10)))
            #expect(!processExists(pid))
            #expect(!FileSystem.exists(realm.path("control.sock")))
            #expect(try SupervisorExit.persisted(directory: realm.directory, id: "t")?.code == 137)
        } catch {
            await realm.finish()
            throw error
        }
        await realm.finish()
    }

    @Test("every child is reaped, including orphans, and an exit before the runtime's own is kept")
    func noZombies() async throws {
        try await withRealm { realm in
            // Orphans of the runtime that exit on their own.
            _ = try await realm.createContainer("o", script: "sleep 0.2\n", runtimePrefix: "(sleep 0.05) & (sleep 0.1) & ")
            #expect(try await realm.client.wait(id: "o").code == 0)

            // The container process exits before its runtime does (which, being `sleep` by then,
            // does not reap it): it reaches the supervisor as a zombie when the runtime exits.
            let pidFile = realm.path("early.pid")
            let early = try await realm.client.create(
                id: "early", pidFile: pidFile, logPath: realm.path("early.log"),
                argv: ["/bin/sh", "-c", "sh -c 'sleep 0.1; echo gone; exit 5' & echo $! > \(pidFile); exec sleep 0.4"])
            #expect(early > 1)
            let exit = try await realm.client.wait(id: "early")
            #expect(exit.code == 5)
            #expect(try realm.log("early").map(\.content) == ["gone"])

            #expect(try await realmEventually(timeout: .seconds(3)) { realm.children().isEmpty }, "\(realm.children())")
        }
    }

    @Test("forget drops an exited container and its record; a SIGKILL that is not the OOM killer's is no OOM")
    func forgetAndOOM() async throws {
        try await withRealm { realm in
            _ = try await realm.createContainer("busy", script: "sleep 30\n")
            do {
                try await realm.client.forget(id: "busy")
                Issue.record("forget of a running container succeeded")
            } catch {
                #expect((error as? FascoError)?.code == .failedPrecondition)
            }

            _ = try await realm.createContainer("killed", script: "kill -9 $$\n")
            let exit = try await realm.client.wait(id: "killed")
            #expect(exit.code == 137)
            #expect(!exit.oom)
            #expect(try realm.client.persistedExit(id: "killed") == exit)

            try await realm.client.forget(id: "killed")
            #expect(try realm.client.persistedExit(id: "killed") == nil)
            #expect(try await realm.client.list().map(\.id) == ["busy"])
            try await realm.client.forget(id: "killed")  // unknown IDs succeed
        }
    }
}

private func readPID(_ path: String) throws -> pid_t? {
    try FileSystem.read(path).flatMap { pid_t(String(decoding: $0, as: UTF8.self).split(separator: "\n").first ?? "") }
}
