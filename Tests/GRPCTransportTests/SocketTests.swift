import Foundation
import Testing
@testable import GRPCTransport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Unix socket handling")
struct SocketTests {
    /// Starts a server at `path`, checks it answers, and shuts it down.
    private func serveOnce(at path: String) async throws {
        let server = try GRPCServer(configuration: GRPCServer.Configuration(socketPath: path), methods: testMethods(Probe()))
        let channel = GRPCChannel(target: "unix://" + path)
        do {
            let reply = try await channel.unary(Path.echo, request: [42], timeout: callTimeout)
            #expect(reply == [42])
        } catch {
            await server.shutdown(gracePeriod: .milliseconds(100))
            channel.close()
            throw error
        }
        await server.shutdown(gracePeriod: .milliseconds(100))
        channel.close()
        #expect(!exists(path))
    }

    private func startError(_ configuration: GRPCServer.Configuration) async -> GRPCServerError? {
        do {
            let server = try GRPCServer(configuration: configuration, methods: [])
            Issue.record("the server started on \(configuration.socketPath)")
            await server.shutdown(gracePeriod: .zero)
            return nil
        } catch {
            return error
        }
    }

    @Test("missing parent directories are created")
    func createsParents() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let path = directory + "/run/fasco/s.sock"
        let server = try GRPCServer(configuration: GRPCServer.Configuration(socketPath: path), methods: testMethods(Probe()))
        #expect(isDirectory(directory + "/run"))
        #expect(isDirectory(directory + "/run/fasco"))
        #expect(isSocket(path))
        let channel = GRPCChannel(target: "unix://" + path)
        let answer = try? await channel.unary(Path.echo, request: [1, 2], timeout: callTimeout)
        #expect(answer == [1, 2])
        await server.shutdown(gracePeriod: .milliseconds(100))
        channel.close()
    }

    @Test("the socket is created with mode 0660 by default")
    func defaultMode() async throws {
        try await withServer { f in
            let mode = try #require(fileMode(f.socketPath))
            #expect(mode & S_IFMT == S_IFSOCK)
            #expect(mode & 0o7777 == 0o660, "mode is \(String(mode & 0o7777, radix: 8))")
        }
    }

    @Test("configuration.socketMode is applied")
    func customMode() async throws {
        try await withServer(configure: { $0.socketMode = 0o600 }) { f in
            let mode = try #require(fileMode(f.socketPath))
            #expect(mode & 0o7777 == 0o600, "mode is \(String(mode & 0o7777, radix: 8))")
            let reply = try await f.channel.unary(Path.echo, request: [3], timeout: callTimeout)
            #expect(reply == [3])
        }
    }

    @Test("a stale socket file is replaced")
    func staleSocket() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let path = directory + "/s.sock"
        try makeStaleSocket(at: path)
        #expect(isSocket(path))
        #expect(!UnixSocket.isLive(path))
        try await serveOnce(at: path)
    }

    @Test("a stopped server's path can be reused")
    func restart() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let path = directory + "/s.sock"
        try await serveOnce(at: path)
        try await serveOnce(at: path)
    }

    @Test("a second server on a live socket is refused and the first keeps serving")
    func liveSocket() async throws {
        try await withServer { f in
            #expect(UnixSocket.isLive(f.socketPath))
            let error = await startError(GRPCServer.Configuration(socketPath: f.socketPath))
            #expect(error?.description.contains("already listening") == true, "got \(String(describing: error))")
            #expect(isSocket(f.socketPath))
            let reply = try await f.channel.unary(Path.echo, request: [8, 8], timeout: callTimeout)
            #expect(reply == [8, 8])
            let other = GRPCChannel(target: f.target)
            defer { other.close() }
            let fresh = try await other.unary(Path.echo, request: [9], timeout: callTimeout)
            #expect(fresh == [9])
        }
    }

    @Test("a regular file at the path is refused and left alone")
    func regularFile() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let path = directory + "/s.sock"
        let content = Data("precious data\n".utf8)
        try content.write(to: URL(fileURLWithPath: path))
        let error = await startError(GRPCServer.Configuration(socketPath: path))
        #expect(error?.description.contains("not a socket") == true, "got \(String(describing: error))")
        #expect(FileManager.default.contents(atPath: path) == content)
    }

    @Test("a directory at the path is refused and left alone")
    func directoryAtPath() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let path = directory + "/s.sock"
        #expect(mkdir(path, 0o700) == 0)
        let error = await startError(GRPCServer.Configuration(socketPath: path))
        #expect(error?.description.contains("not a socket") == true, "got \(String(describing: error))")
        #expect(isDirectory(path))
    }

    @Test("a relative path is refused")
    func relativePath() async {
        let error = await startError(GRPCServer.Configuration(socketPath: "fasco-grpc-relative-test/s.sock"))
        #expect(error?.description.contains("must be absolute") == true, "got \(String(describing: error))")
        #expect(!exists("fasco-grpc-relative-test"))
    }

    @Test("a path over 107 bytes is refused; exactly 107 works")
    func pathLength() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        #expect(UnixSocket.maxPathBytes == 107)
        func path(ofLength length: Int) -> String {
            let prefix = directory + "/"
            let path = prefix + String(repeating: "a", count: length - prefix.utf8.count - 5) + ".sock"
            precondition(path.utf8.count == length)
            return path
        }
        let tooLong = path(ofLength: 108)
        let error = await startError(GRPCServer.Configuration(socketPath: tooLong))
        #expect(error?.description.contains("longer than 107 bytes") == true, "got \(String(describing: error))")
        #expect(!exists(tooLong))

        try await serveOnce(at: path(ofLength: 107))
    }
}
