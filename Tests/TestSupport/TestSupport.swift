import FascoCore
import GRPCTransport
import ImageStore

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
