import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("realm supervisor (fasco-realm)", .enabled(if: SupervisorFixture.available, "needs root and the fasco-realm binary"))
struct SupervisorTests {
    @Test("launch makes the realm's net, ipc and uts namespaces, sets the hostname and brings lo up")
    func launch() async throws {
        try await withRealm(hostname: "realm-test-host") { realm in
            let pid = String(realm.pid)

            for name in ["net", "ipc", "uts"] {
                let own = namespaceLink("self", name)
                let realms = namespaceLink(pid, name)
                #expect(!own.isEmpty && !realms.isEmpty && own != realms, "\(name): \(own) vs \(realms)")
            }
            #expect(namespaceLink("self", "mnt") == namespaceLink(pid, "mnt"))

            let hostname = try await realmShell("nsenter -t \(pid) -u hostname")
            #expect(hostname.status == 0)
            #expect(hostname.output == "realm-test-host\n")
            let loopback = try await realmShell("nsenter -t \(pid) -n ip -o link show lo")
            #expect(loopback.output.contains("<LOOPBACK,UP,LOWER_UP>"), "\(loopback.output)")

            #expect(try SupervisorProcess.readPID(directory: realm.directory) == realm.pid)
            var info = stat()
            #expect(stat(realm.path("control.sock"), &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFSOCK)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(getsid(realm.pid) == realm.pid, "the supervisor leads a session of its own")
            #expect(FileSystem.isDirectory(realm.path("exits")))
            #expect(try await realm.client.list().isEmpty)
            #expect(try SupervisorProcess.attach(directory: realm.directory) == realm.process)
            print("fasco-realm VmRSS after start: \(try realm.residentKiB()) KiB")
        }
    }

    @Test("namespaces the caller keeps are shared with the host")
    func sharedNamespaces() async throws {
        try await withRealm(hostname: nil, namespaces: .init(network: false, ipc: true, uts: false)) { realm in
            let pid = String(realm.pid)
            #expect(namespaceLink("self", "net") == namespaceLink(pid, "net"))
            #expect(namespaceLink("self", "uts") == namespaceLink(pid, "uts"))
            #expect(namespaceLink("self", "ipc") != namespaceLink(pid, "ipc"))
        }
    }

    @Test("a created container is tracked: its exit, CRI log lines and persisted record")
    func createAndWait() async throws {
        try await withRealm { realm in
            let pidFile = realm.path("c1.pid")
            let before = realmNowNanoseconds()
            // What `crun create` does: the parent exits 0 and leaves the container process behind.
            let pid = try await realm.client.create(
                id: "c1", pidFile: pidFile, logPath: realm.path("c1.log"),
                argv: ["/bin/sh", "-c", #"sh -c "while [ ! -e "# + realm.path("go") + #" ]; do sleep 0.02; done; echo out; echo err >&2; exit 3" & echo $! > "# + pidFile])
            #expect(pid > 1)
            // The container waits for the test (as a real one waits for start) so it is seen running.
            #expect(try await realm.client.list() == [SupervisorContainer(id: "c1", pid: pid, state: .running, exit: nil)])
            try FileSystem.writeAtomically([], to: realm.path("go"))

            let exit = try await realm.client.wait(id: "c1")
            #expect(exit.code == 3)
            #expect(!exit.oom)
            #expect(exit.finishedAt >= before && exit.finishedAt <= realmNowNanoseconds())

            let entries = try realm.log("c1")
            #expect(entries.map { "\($0.stream) \($0.tag) \($0.content)" }.sorted() == ["stderr F err", "stdout F out"])
            #expect(entries.allSatisfy { $0.hasCRITimestamp }, "\(entries)")

            #expect(try realm.client.persistedExit(id: "c1") == exit)
            let record = try FileSystem.read(realm.path("exits/c1")).map { String(decoding: $0, as: UTF8.self) }
            #expect(record == "code=3\nfinished=\(exit.finishedAt)\noom=0\npid=\(pid)\n")
            #expect(try await realm.client.list() == [SupervisorContainer(id: "c1", pid: pid, state: .exited, exit: exit)])
            // A second wait answers at once with the same exit.
            #expect(try await realm.client.wait(id: "c1") == exit)
        }
    }

    @Test("lines over 16 KiB become P chunks that reassemble exactly; a last line without newline is F")
    func longLines() async throws {
        try await withRealm { realm in
            let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
            let long = (0..<40 * 1024).map { alphabet[$0 % alphabet.count] }
            let exact = [UInt8](repeating: UInt8(ascii: "x"), count: 16 * 1024)
            let tail = Array("the end, without a newline".utf8)
            try FileSystem.writeAtomically(long + [0x0A] + exact + [0x0A] + tail, to: realm.path("lines.txt"))

            _ = try await realm.createContainer("long", script: "cat \(realm.path("lines.txt"))\n")
            #expect(try await realm.client.wait(id: "long").code == 0)

            let entries = try realm.log("long")
            #expect(entries.map(\.tag) == ["P", "P", "F", "F", "F"])
            #expect(entries.map(\.content.utf8.count) == [16384, 16384, 8192, 16384, tail.count])
            #expect(entries.allSatisfy { $0.stream == "stdout" })
            #expect(Array((entries[0].content + entries[1].content + entries[2].content).utf8) == long)
            #expect(Array(entries[3].content.utf8) == exact)
            #expect(Array(entries[4].content.utf8) == tail)
        }
    }

    @Test("output is neither lost nor reordered within a stream, and memory stays small")
    func heavyOutput() async throws {
        try await withRealm { realm in
            // Two writers at once: the container and a child sharing its pipes.
            _ = try await realm.createContainer("burst", script: "seq 1 100000 >&2 &\nseq 1 100000\nwait\n")
            #expect(try await realm.client.wait(id: "burst").code == 0)

            let entries = try realm.log("burst")
            let expected = (1...100_000).map(String.init)
            #expect(entries.filter { $0.stream == "stdout" }.map(\.content) == expected)
            #expect(entries.filter { $0.stream == "stderr" }.map(\.content) == expected)
            #expect(entries.allSatisfy { $0.tag == "F" })

            let rss = try realm.residentKiB()
            print("fasco-realm VmRSS after logging 2 x 100000 lines: \(rss) KiB")
            #expect(rss <= 8 * 1024)
        }
    }

    @Test("a failing create reports the runtime's status and output and keeps nothing")
    func failingCreate() async throws {
        try await withRealm { realm in
            func failure(_ argv: [String], id: String = "bad") async -> (FascoError?, SupervisorCreateFailure?) {
                do {
                    _ = try await realm.client.create(id: id, pidFile: realm.path("bad.pid"), logPath: realm.path("bad.log"), argv: argv)
                    return (nil, nil)
                } catch {
                    return (error, error.cause as? SupervisorCreateFailure)
                }
            }

            let (error, cause) = await failure(["/bin/sh", "-c", "echo 'runtime says no' >&2; exit 4"])
            #expect(cause == SupervisorCreateFailure(status: 4, output: "runtime says no\n"))
            #expect(error?.message.contains("status 4: runtime says no") == true, "\(String(describing: error))")

            let (_, missing) = await failure(["/nonexistent/runtime", "create"])
            #expect(missing?.status == 127)
            #expect(missing?.output.contains("cannot execute /nonexistent/runtime") == true)

            let (_, noPID) = await failure(["/bin/true"])
            #expect(noPID?.status == 0)
            #expect(noPID?.output.contains("bad.pid") == true, "\(String(describing: noPID))")

            let (_, stranger) = await failure(["/bin/sh", "-c", "echo \(getpid()) > \(realm.path("bad.pid"))"])
            #expect(stranger?.output.contains("is not a child of the supervisor") == true, "\(String(describing: stranger))")

            let (signalled, _) = await failure(["/bin/sh", "-c", "kill -9 $$"])
            #expect((signalled?.cause as? SupervisorCreateFailure)?.status == 137)

            #expect(try await realm.client.list().isEmpty)
            // The ID is free again.
            _ = try await realm.createContainer("bad", script: "exit 0\n")
            #expect(try await realm.client.wait(id: "bad").code == 0)
        }
    }

    @Test("malformed commands get error replies and the supervisor keeps serving")
    func malformedCommands() async throws {
        try await withRealm { realm in
            let tooMany = (["create", "x", "/p", "/l"] + Array(repeating: "a", count: 300)).joined(separator: "\0")
            let datagrams: [[UInt8]] = [
                Array("bogus".utf8), Array("list\0extra".utf8), Array("shutdown\0now".utf8), Array("wait".utf8),
                Array("wait\0a\0b".utf8), Array("wait\0../etc".utf8), Array("wait\0".utf8), Array("wait\0a\nb".utf8),
                Array("wait\0unknown".utf8), Array("reopen\0unknown".utf8), Array("create".utf8), Array("create\0x\0/p\0/l".utf8),
                Array("create\0x\0relative\0/l\0/bin/true".utf8), Array("create\0x\0/p\0/l\0".utf8), Array(tooMany.utf8),
                [0xFF, 0xFE, 0x00, 0x80], Array("wait\0".utf8) + [0xC3, 0x28], [UInt8](repeating: 0x41, count: 70 * 1024),
                [0x00],
                Array("create-tty".utf8), Array("create-tty\0bogus\0/s\0x\0/p\0/l\0/bin/true".utf8),
                Array("create-tty\0open\0relative.sock\0x\0/p\0/l\0/bin/true".utf8),
                Array(("create-tty\0none\0/" + String(repeating: "s", count: 120) + "\0x\0/p\0/l\0/bin/true").utf8),
                Array("resize".utf8), Array("resize\0x".utf8), Array("resize\0x\080".utf8), Array("resize\0unknown\080\024".utf8),
                Array("resize\0x\00\024".utf8), Array("resize\0x\080\065536".utf8), Array("resize\0x\0-1\024".utf8),
                Array("resize\0x\080\024\0extra".utf8), Array("resize\0../x\080\024".utf8),
            ]
            for datagram in datagrams {
                let reply = try await realm.client.exchange(datagram, timeout: .seconds(5))
                #expect(reply.starts(with: Array("error\0".utf8)), "\(datagram.prefix(40)) -> \(String(decoding: reply, as: UTF8.self))")
            }
            // An empty datagram reads like a hang-up: that connection is closed, no more.
            await #expect(throws: FascoError.self) { _ = try await realm.client.exchange([], timeout: .seconds(5)) }

            #expect(try await realm.client.list().isEmpty)
            #expect(processExists(realm.pid))
            await #expect(throws: FascoError.self) { try await realm.client.reopen(id: "unknown") }
            do {
                _ = try await realm.client.wait(id: "missing")
                Issue.record("wait on an unknown container succeeded")
            } catch {
                #expect((error as? FascoError)?.code == .notFound)
            }
            do {
                _ = try await realm.client.create(id: "../x", pidFile: "/p", logPath: "/l", argv: ["/bin/true"])
                Issue.record("a malformed ID was accepted")
            } catch {
                #expect((error as? FascoError)?.code == .invalidArgument)
            }
        }
    }

    @Test("reopen sends new output to a fresh file after rotation")
    func reopen() async throws {
        try await withRealm { realm in
            let go = realm.path("go")
            _ = try await realm.createContainer("rot", script: "echo before\nwhile [ ! -e \(go) ]; do sleep 0.01; done\necho after\n")
            #expect(try await realmEventually { try realm.log("rot").count == 1 })
            #expect(rename(realm.path("rot.log"), realm.path("rot.log.1")) == 0)
            try await realm.client.reopen(id: "rot")
            try FileSystem.writeAtomically([], to: go)
            #expect(try await realm.client.wait(id: "rot").code == 0)
            #expect(try realm.log("rot", file: realm.path("rot.log.1")).map(\.content) == ["before"])
            #expect(try realm.log("rot").map(\.content) == ["after"])
        }
    }
}
