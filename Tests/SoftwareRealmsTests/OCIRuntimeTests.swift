import FascoCore
import RealmCore
import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Against the real crun and runc of the host (root needed). Every test uses its own IDs,
/// state root and bundle, and force-deletes, removes its cgroups and its directory at the end.
@Suite("OCI runtimes (real crun and runc)")
struct OCIRuntimeTests {
    @Test("create -> created -> start -> output and a file -> stopped -> delete",
          .enabled(if: runningAsRoot), arguments: OCIRuntime.Kind.allCases)
    func lifecycle(kind: OCIRuntime.Kind) async throws {
        try #require(runtimeAvailable(kind), "\(kind) is not installed")
        let box = try BusyboxBundle(
            id: uniqueID("life-\(kind)"),
            args: ["/bin/sh", "-c", "echo hello > /out.txt; echo piped; echo oops >&2; cat /proc/self/cgroup > /cgroup.txt"])
        let runtime = try box.runtime(kind)
        do {
            let (stdoutRead, stdoutWrite) = try ProcessSpawner.makePipe()
            let (stderrRead, stderrWrite) = try ProcessSpawner.makePipe()
            let pidFile = box.directory + "/container.pid"
            let pid = try await runtime.create(
                id: box.id, bundle: box.bundle, pidFile: pidFile, stdio: .init(stdout: stdoutWrite, stderr: stderrWrite))
            close(stdoutWrite)
            close(stderrWrite)

            // create returned: the runtime (and, for crun here, the unshare wrapper) has exited,
            // and the container process lives on in namespaces of its own.
            let created = try await runtime.state(id: box.id)
            #expect(created.status == .created)
            #expect(created.id == box.id)
            #expect(created.pid == pid && pid > 0)
            #expect(created.bundle == box.bundle)
            #expect(ProcessSpawner.isAlive(pid))
            let ourNamespace = readLink("/proc/self/ns/mnt")
            #expect(!ourNamespace.isEmpty && readLink("/proc/\(pid)/ns/mnt") != ourNamespace)
            #expect(!box.cgroupDirectories().isEmpty)
            // The wrapper's unmount was private: the host still has its cgroup v2 mount.
            if let launcher = runtime.launcher {
                for mountPoint in launcher.mountPoints {
                    #expect(try MountInfo.current().contains { $0.mountPoint == mountPoint }, "\(mountPoint) vanished from the host")
                }
            }

            try await runtime.start(id: box.id)
            #expect(try await readToEnd(stdoutRead) == "piped\n")
            #expect(try await readToEnd(stderrRead) == "oops\n")
            #expect(await ProcessSpawner.waitForExit(ofProcess: pid, timeout: .seconds(10)))
            let stopped = try await waitForStatus(runtime, box.id, .stopped)
            #expect(stopped.status == .stopped)
            #expect(try readText(box.rootfs + "/out.txt") == "hello\n")
            let cgroups = try readText(box.rootfs + "/cgroup.txt") ?? ""
            #expect(cgroups.contains("memory:/fasco-test/\(box.id)"), "\(cgroups)")

            // A stopped container cannot start again.
            await #expect { try await runtime.start(id: box.id) } throws: { FascoError.Code.failedPrecondition.matches($0) }

            try await runtime.delete(id: box.id)
            await #expect { try await runtime.state(id: box.id) } throws: { FascoError.Code.notFound.matches($0) }
            #expect(box.cgroupDirectories().isEmpty, "left behind: \(box.cgroupDirectories())")
            #expect(!FileSystem.exists(box.stateRoot + "/" + box.id))
        } catch {
            await box.cleanUp(runtime)
            throw error
        }
        await box.cleanUp(runtime)
    }

    @Test("SIGTERM stops a container whose init traps it; kill --all reaches every process",
          .enabled(if: runningAsRoot), arguments: OCIRuntime.Kind.allCases)
    func terminate(kind: OCIRuntime.Kind) async throws {
        try #require(runtimeAvailable(kind), "\(kind) is not installed")
        let box = try BusyboxBundle(id: uniqueID("term-\(kind)"), args: ["/bin/sh", "-c", "trap 'exit 143' TERM; echo ready; sleep 1000 & wait"])
        let runtime = try box.runtime(kind)
        do {
            let (readEnd, writeEnd) = try ProcessSpawner.makePipe()
            defer { close(readEnd) }
            let pid = try await runtime.create(id: box.id, bundle: box.bundle, stdio: .init(stdout: writeEnd))
            close(writeEnd)
            try await runtime.start(id: box.id)
            #expect(try await readUntil(readEnd, contains: "ready").contains("ready"))
            #expect(try await runtime.state(id: box.id).status == .running)
            try await runtime.kill(id: box.id, signal: SIGTERM)
            #expect(await ProcessSpawner.waitForExit(ofProcess: pid, timeout: .seconds(10)))
            #expect(try await waitForStatus(runtime, box.id, .stopped).status == .stopped)
            try await runtime.delete(id: box.id)
            #expect(box.cgroupDirectories().isEmpty)
        } catch {
            await box.cleanUp(runtime)
            throw error
        }
        await box.cleanUp(runtime)
    }

    @Test("a bare `sleep 1000` as PID 1 ignores SIGTERM (no handler); SIGKILL stops it",
          .enabled(if: runningAsRoot), arguments: OCIRuntime.Kind.allCases)
    func sleepIgnoresTerm(kind: OCIRuntime.Kind) async throws {
        try #require(runtimeAvailable(kind), "\(kind) is not installed")
        let box = try BusyboxBundle(id: uniqueID("sleep-\(kind)"), args: ["/bin/sleep", "1000"])
        let runtime = try box.runtime(kind)
        do {
            let pid = try await runtime.create(id: box.id, bundle: box.bundle)
            try await runtime.start(id: box.id)
            #expect(try await runtime.state(id: box.id).status == .running)
            try await runtime.kill(id: box.id, signal: SIGTERM)
            // The kernel drops signals a PID-namespace init has no handler for.
            #expect(!(await ProcessSpawner.waitForExit(ofProcess: pid, timeout: .milliseconds(300))))
            #expect(try await runtime.state(id: box.id).status == .running)
            try await runtime.kill(id: box.id, signal: SIGKILL, all: true)
            #expect(await ProcessSpawner.waitForExit(ofProcess: pid, timeout: .seconds(10)))
            #expect(try await waitForStatus(runtime, box.id, .stopped).status == .stopped)
            try await runtime.delete(id: box.id)
            #expect(box.cgroupDirectories().isEmpty)
        } catch {
            await box.cleanUp(runtime)
            throw error
        }
        await box.cleanUp(runtime)
    }

    @Test("delete --force removes a running container; delete without force refuses it",
          .enabled(if: runningAsRoot), arguments: OCIRuntime.Kind.allCases)
    func forceDelete(kind: OCIRuntime.Kind) async throws {
        try #require(runtimeAvailable(kind), "\(kind) is not installed")
        let box = try BusyboxBundle(id: uniqueID("force-\(kind)"), args: ["/bin/sleep", "1000"])
        let runtime = try box.runtime(kind)
        do {
            let pid = try await runtime.create(id: box.id, bundle: box.bundle)
            try await runtime.start(id: box.id)
            #expect(try await runtime.state(id: box.id).status == .running)
            await #expect { try await runtime.delete(id: box.id) } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.code == .failedPrecondition && error.message.contains(box.id)
            }
            try await runtime.delete(id: box.id, force: true)
            #expect(await ProcessSpawner.waitForExit(ofProcess: pid, timeout: .seconds(10)))
            await #expect { try await runtime.state(id: box.id) } throws: { FascoError.Code.notFound.matches($0) }
            #expect(box.cgroupDirectories().isEmpty, "left behind: \(box.cgroupDirectories())")
        } catch {
            await box.cleanUp(runtime)
            throw error
        }
        await box.cleanUp(runtime)
    }

    @Test("unknown containers are NOT_FOUND naming the ID", .enabled(if: runningAsRoot), arguments: OCIRuntime.Kind.allCases)
    func unknown(kind: OCIRuntime.Kind) async throws {
        try #require(runtimeAvailable(kind), "\(kind) is not installed")
        let directory = try makeTemporaryDirectory()
        defer { try? FileSystem.removeTree(directory) }
        let runtime = try OCIRuntime(kind: kind, stateRoot: directory + "/state")
        let id = uniqueID("nope")
        let named: @Sendable (any Error) -> Bool = { error in
            guard let error = error as? FascoError else { return false }
            return error.code == .notFound && error.message.contains(id) && error.message.contains("does not exist")
        }
        await #expect(performing: { try await runtime.state(id: id) }, throws: named)
        await #expect(performing: { try await runtime.delete(id: id) }, throws: named)
        // Forced deletion of an unknown container succeeds with both runtimes (idempotent teardown).
        try await runtime.delete(id: id, force: true)
        await #expect(performing: { try await runtime.kill(id: id, signal: SIGKILL) }, throws: named)
        await #expect(performing: { try await runtime.start(id: id) }, throws: named)
        await #expect { try await runtime.state(id: "../etc") } throws: { FascoError.Code.invalidArgument.matches($0) }
        await #expect { try await runtime.state(id: "--all") } throws: { FascoError.Code.invalidArgument.matches($0) }
    }

    @Test("broken bundles are clear errors naming the problem", .enabled(if: runningAsRoot), arguments: OCIRuntime.Kind.allCases)
    func brokenBundles(kind: OCIRuntime.Kind) async throws {
        try #require(runtimeAvailable(kind), "\(kind) is not installed")
        let box = try BusyboxBundle(id: uniqueID("bad-\(kind)"), args: ["/bin/true"])
        let runtime = try box.runtime(kind)
        defer { try? FileSystem.removeTree(box.directory) }
        func expectError(_ code: FascoError.Code, containing words: [String], bundle: String, id: String? = nil) async {
            let id = id ?? uniqueID("bad")
            do {
                try await runtime.create(id: id, bundle: bundle)
                Issue.record("create of \(bundle) succeeded")
                try? await runtime.delete(id: id, force: true)
            } catch {
                #expect(error.code == code, "\(error)")
                for word in words { #expect(error.message.contains(word), "\(error.message) lacks \(word)") }
                print("\(kind) broken bundle -> \(error.code): \(error.message)")
            }
        }

        await expectError(.notFound, containing: ["/no/such/bundle", "does not exist"], bundle: "/no/such/bundle")

        let empty = box.directory + "/empty"
        try FileSystem.makeDirectories(empty)
        await expectError(.notFound, containing: ["config.json"], bundle: empty)

        let garbled = box.directory + "/garbled"
        try FileSystem.makeDirectories(garbled + "/rootfs")
        try writeText(#"{"ociVersion": "1.0.2", "process": {"#, to: garbled + "/config.json")
        await expectError(.invalidArgument, containing: ["config.json", "not a valid runtime configuration"], bundle: garbled)

        let mistyped = box.directory + "/mistyped"
        try FileSystem.makeDirectories(mistyped + "/rootfs")
        try writeText(#"{"ociVersion": "1.0.2", "process": {"args": "/bin/sh", "cwd": "/"}, "root": {"path": "rootfs"}}"#, to: mistyped + "/config.json")
        await expectError(.invalidArgument, containing: ["process.args"], bundle: mistyped)

        // A process that does not exist in the rootfs: crun refuses at create, runc when its
        // init execs (also during create).
        let noBinary = try BusyboxBundle(id: uniqueID("nobin-\(kind)"), args: ["/bin/nonexistent"])
        await expectError(.failedPrecondition, containing: ["/bin/nonexistent"], bundle: noBinary.bundle, id: noBinary.id)
        await noBinary.cleanUp(runtime)

        // An ID in use.
        try await runtime.create(id: box.id, bundle: box.bundle)
        await expectError(.alreadyExists, containing: [box.id], bundle: box.bundle, id: box.id)
        await box.cleanUp(runtime)
    }
}

func readLink(_ path: String) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count > 0 else { return "" }
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
