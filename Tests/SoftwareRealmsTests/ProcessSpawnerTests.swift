import FascoCore
import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("process spawning")
struct ProcessSpawnerTests {
    @Test("echo prints its arguments; names are looked up on PATH")
    func echo() async throws {
        let output = try await ProcessSpawner.run("/bin/echo", args: ["hello", "world"])
        #expect(output.exit == .exited(0))
        #expect(output.stdoutText == "hello world\n")
        #expect(output.stderr.isEmpty)
        let byName = try await ProcessSpawner.run("echo", args: ["by name"])
        #expect(byName.stdoutText == "by name\n")
    }

    @Test("an executable still open for writing a moment longer (ETXTBSY) starts once it is closed; one that stays open is an error naming it")
    func textFileBusy() async throws {
        let directory = try makeTemporaryDirectory("fasco-txtbsy")
        defer { try? FileSystem.removeTree(directory) }
        let script = directory + "/script"
        let fd = open(script, O_WRONLY | O_CREAT | O_CLOEXEC, 0o755)
        try #require(fd >= 0)
        let body = Array("#!/bin/sh\necho started\n".utf8)
        #expect(body.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == body.count)
        // Held open: every attempt finds it busy.
        #expect { try ProcessSpawner.spawn(.init(script, arguments: [])) } throws: { ($0 as? FascoError)?.message.contains("Text file busy") == true }
        // Closed about 5 ms after the first attempt, on a thread of its own: a later attempt starts it.
        try #require(DetachedThread.start {
            usleep(5_000)
            close(fd)
        })
        let output = try await ProcessSpawner.run(script, args: [])
        #expect(output.stdoutText == "started\n")
    }

    @Test("exit statuses and signals are told apart")
    func exitCodes() async throws {
        #expect(try await ProcessSpawner.run("/bin/sh", args: ["-c", "exit 3"]).exit == .exited(3))
        #expect(try await ProcessSpawner.run("/bin/sh", args: ["-c", "exit 255"]).exit == .exited(255))
        let killed = try await ProcessSpawner.run("/bin/sh", args: ["-c", "kill -9 $$"])
        #expect(killed.exit == .signaled(SIGKILL))
        #expect(killed.exit.shellStatus == 137)
        let child = try ProcessSpawner.spawn(.init("/bin/sh", arguments: ["-c", "exit 7"]))
        #expect(try await ProcessSpawner.wait(child.pid) == .exited(7))
    }

    @Test("stdout and stderr are captured apart")
    func stderr() async throws {
        let output = try await ProcessSpawner.run("/bin/sh", args: ["-c", "echo out; echo err >&2; exit 1"])
        #expect(output.exit == .exited(1))
        #expect(output.stdoutText == "out\n")
        #expect(output.stderrText == "err\n")
    }

    @Test("large output is drained while the child runs, and capped at the limit")
    func largeOutput() async throws {
        let output = try await ProcessSpawner.run("/bin/sh", args: ["-c", "head -c 1000000 /dev/zero"])
        #expect(output.stdout.count == 1_000_000)
        #expect(!output.truncated)
        let capped = try await ProcessSpawner.run(
            .init("/bin/sh", arguments: ["-c", "head -c 100000 /dev/zero"], stdout: .pipe, stderr: .pipe),
            timeout: .seconds(10), outputLimit: 1000)
        #expect(capped.stdout.count == 1000)
        #expect(capped.truncated)
    }

    @Test("a timeout kills the child and its process group, and says so")
    func timeout() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileSystem.removeTree(directory) }
        let started = ContinuousClock.now
        await #expect { try await ProcessSpawner.run(
            "/bin/sh", args: ["-c", "echo $$ > \(directory)/sh; sleep 30 & echo $! > \(directory)/sleep; echo late >&2; wait"],
            timeout: .milliseconds(300)) } throws: { error in
            guard let error = error as? FascoError, error.code == .deadlineExceeded else { return false }
            return error.message.contains("did not finish") && error.message.contains("late")
        }
        #expect(ContinuousClock.now - started < .seconds(20), "the 30 s sleep was not waited for")
        for name in ["sh", "sleep"] {
            let pid = try #require(Int32((try readText("\(directory)/\(name)") ?? "").trimmingCharacters()))
            #expect(await ProcessSpawner.waitForExit(ofProcess: pid, timeout: .seconds(5)), "\(name) \(pid) survived")
        }
    }

    @Test("the environment is exactly what is given; nil inherits the caller's")
    func environment() async throws {
        let output = try await ProcessSpawner.run("/usr/bin/env", environment: ["A=1", "B=two words", "EMPTY="])
        #expect(output.stdoutText == "A=1\nB=two words\nEMPTY=\n")
        let inherited = try await ProcessSpawner.run("/usr/bin/env")
        #expect(inherited.stdoutText.contains("PATH="))
        let empty = try await ProcessSpawner.run("/usr/bin/env", environment: [])
        #expect(empty.stdoutText.isEmpty)
    }

    @Test("the working directory can be set")
    func workingDirectory() async throws {
        #expect(try await ProcessSpawner.run("/bin/pwd", workingDirectory: "/usr/share").stdoutText == "/usr/share\n")
        await #expect { try await ProcessSpawner.run("/bin/pwd", workingDirectory: "/no/such/directory") } throws: { error in
            FascoError.Code.notFound.matches(error) && "\(error)".contains("/no/such/directory")
        }
    }

    @Test("children get only 0, 1 and 2, even when the parent holds descriptors without close-on-exec")
    func noDescriptorLeaks() async throws {
        let leaky = open("/dev/null", O_RDONLY)  // deliberately not O_CLOEXEC
        var pipeEnds: [Int32] = [-1, -1]
        #expect(pipe(&pipeEnds) == 0)  // nor these
        defer {
            close(leaky)
            close(pipeEnds[0])
            close(pipeEnds[1])
        }
        #expect(leaky > 2)
        let child = try ProcessSpawner.spawn(.init("/bin/sleep", arguments: ["30"], stdout: .pipe))
        defer { child.closePipes() }
        // The dynamic loader briefly holds a descriptor of its own while the child starts;
        // a leaked one would stay, so wait (boundedly) for the list to settle.
        var descriptors = try FileSystem.list("/proc/\(child.pid)/fd").sorted()
        let start = ContinuousClock.now
        while descriptors != ["0", "1", "2"] && ContinuousClock.now - start < .seconds(3) {
            try await Task.sleep(for: .milliseconds(10))
            descriptors = try FileSystem.list("/proc/\(child.pid)/fd").sorted()
        }
        kill(child.pid, SIGKILL)
        #expect(try await ProcessSpawner.wait(child.pid) == .signaled(SIGKILL))
        #expect(descriptors == ["0", "1", "2"])
    }

    @Test("stdin and stdout pipes and caller descriptors connect the child")
    func pipes() async throws {
        let child = try ProcessSpawner.spawn(.init("/bin/cat", stdin: .pipe, stdout: .pipe))
        let input = try #require(child.stdin)
        let output = try #require(child.stdout)
        let text = Array("through cat\n".utf8)
        #expect(text.withUnsafeBytes { write(input, $0.baseAddress, $0.count) } == text.count)
        close(input)
        #expect(try await readToEnd(output) == "through cat\n")
        #expect(try await ProcessSpawner.wait(child.pid) == .exited(0))

        let (readEnd, writeEnd) = try ProcessSpawner.makePipe()
        let writer = try ProcessSpawner.spawn(.init("/bin/sh", arguments: ["-c", "echo to-stdout; echo to-stderr >&2"],
                                                  stdout: .fd(writeEnd), stderr: .fd(writeEnd)))
        close(writeEnd)
        #expect(try await readToEnd(readEnd) == "to-stdout\nto-stderr\n")
        #expect(try await ProcessSpawner.wait(writer.pid) == .exited(0))
    }

    @Test("a new session makes the child a session leader; without it the child shares ours")
    func session() async throws {
        for newSession in [true, false] {
            let child = try ProcessSpawner.spawn(.init("/bin/sleep", arguments: ["30"], newSession: newSession))
            let sid = getsid(child.pid)
            kill(child.pid, SIGKILL)
            _ = try await ProcessSpawner.wait(child.pid)
            #expect(sid == (newSession ? child.pid : getsid(0)))
        }
    }

    @Test("waiting with a timeout leaves a running child alone; waitForExit sees non-children end")
    func waiting() async throws {
        let child = try ProcessSpawner.spawn(.init("/bin/sleep", arguments: ["30"]))
        #expect(try await ProcessSpawner.wait(child.pid, timeout: .milliseconds(100)) == nil)
        #expect(ProcessSpawner.isAlive(child.pid))
        kill(child.pid, SIGTERM)
        #expect(try await ProcessSpawner.wait(child.pid, timeout: .seconds(5)) == .signaled(SIGTERM))

        // A grandchild: not ours to reap once its parent (sh) has gone. It lives until it is
        // killed (a loaded host may take seconds to get here), then waitForExit sees it end.
        let output = try await ProcessSpawner.run(.init("/bin/sh", arguments: ["-c", "sleep 300 >/dev/null 2>&1 & echo $!"], stdout: .pipe), timeout: .seconds(30))
        let grandchild = try #require(Int32(output.stdoutText.trimmingCharacters()))
        #expect(ProcessSpawner.isAlive(grandchild))
        #expect(await ProcessSpawner.waitForExit(ofProcess: grandchild, timeout: .milliseconds(200)) == false, "it still runs")
        kill(grandchild, SIGKILL)
        #expect(await ProcessSpawner.waitForExit(ofProcess: grandchild, timeout: .seconds(30)))
        #expect(!ProcessSpawner.isAlive(grandchild))
    }

    @Test("bad commands are clear errors")
    func errors() async throws {
        await #expect { try await ProcessSpawner.run("no-such-command-for-fasco") } throws: { FascoError.Code.notFound.matches($0) }
        await #expect { try await ProcessSpawner.run("/bin/echo", args: ["nul\0byte"]) } throws: { FascoError.Code.invalidArgument.matches($0) }
        #expect(ProcessSpawner.resolve("sh") != nil)
        #expect(ProcessSpawner.resolve("/etc/passwd") == nil)
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}
