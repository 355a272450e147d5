import FascoCore
import GRPCTransport
import ImageStore
#if canImport(Glibc)
import Glibc
#endif

/// What the CRIServer and daemon test targets share: awaited clean-ups, the status a call
/// failed with, and an image source that reaches no registry.

/// Runs `body`, then waits for `cleanUp`, whether `body` threw or not (a `defer` cannot await,
/// and a clean-up left to an unawaited Task outlives the test: its daemon keeps running and its
/// directory stays).
public func withCleanUp<T>(_ cleanUp: () async -> Void, _ body: () async throws -> T) async rethrows -> T {
    let value: T
    do {
        value = try await body()
    } catch {
        await cleanUp()
        throw error
    }
    await cleanUp()
    return value
}

/// The status a call failed with, or nil when it succeeded.
public func statusOf(_ body: () async throws -> Void) async -> GRPCStatus? {
    do {
        try await body()
        return nil
    } catch let status as GRPCStatus {
        return status
    } catch {
        return GRPCStatus(.unknown, "not a GRPCStatus: \(error)")
    }
}

/// A source for tests that must not reach any registry.
public struct UnreachableSource: ImageSource {
    public init() {}

    public func manifest(repository: String, reference: String) async throws(FascoError) -> FetchedManifest {
        throw .unavailable("no registry in this test (\(repository):\(reference))")
    }

    public func blob(repository: String, digest: Digest, size: Int64, into writer: BlobWriter) async throws(FascoError) {
        throw .unavailable("no registry in this test")
    }
}

/// A loopback TCP port nothing listens on now (the kernel's pick for port 0), for a server a
/// test starts a moment later; a random port could be one another test's connection holds.
public func freeLoopbackPort() throws(FascoError) -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw .internal("socket: \(FileSystem.errnoText)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw .internal("cannot pick a free port: \(FileSystem.errnoText)") }
    return UInt16(bigEndian: address.sin_port)
}
