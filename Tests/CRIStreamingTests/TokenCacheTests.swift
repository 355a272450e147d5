@testable import CRIStreaming
import FascoCore
import Testing

@Suite("one-time streaming tokens")
struct TokenCacheTests {
    let request = StreamingRequest.portForward(.init(podSandboxID: "pod", ports: [80]))

    @Test("a token is redeemed once")
    func oneTime() throws {
        let cache = TokenCache(lifetime: .seconds(60), capacity: 10)
        let token = try cache.insert(request)
        #expect(token.count == 32)
        #expect(cache.consume(token) == request)
        #expect(cache.consume(token) == nil)
        #expect(cache.consume("nope") == nil)
    }

    @Test("a token expires")
    func expiry() async throws {
        let cache = TokenCache(lifetime: .milliseconds(50), capacity: 10)
        let token = try cache.insert(request)
        try await Task.sleep(for: .milliseconds(100))
        #expect(cache.consume(token) == nil)
    }

    @Test("live tokens are bounded; expired ones make room")
    func capacity() async throws {
        let cache = TokenCache(lifetime: .milliseconds(50), capacity: 2)
        _ = try cache.insert(request)
        _ = try cache.insert(request)
        #expect(throws: FascoError.self) { try cache.insert(request) }
        try await Task.sleep(for: .milliseconds(100))
        _ = try cache.insert(request)
        #expect(cache.count == 1)
    }
}
