import Foundation
import Testing
@testable import GRPCTransport

/// Runs `body` on a thread of its own: the blocking client must never hold a cooperative thread.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}

@Suite("blocking unary client")
struct BlockingClientTests {
    @Test("echoes bytes, including an empty message")
    func echo() async throws {
        try await withServer { fixture in
            let channel = fixture.channel
            let results = await onOwnThread {
                [[], [1, 2, 3], pattern(100_000)].map { payload in
                    Result { () throws(GRPCStatus) -> [UInt8] in try channel.unaryBlocking(Path.echo, request: payload) }
                }
            }
            let values = results.map { try? $0.get() }
            #expect(values[0] == [])
            #expect(values[1] == [1, 2, 3])
            #expect(values[2] == pattern(100_000))
        }
    }

    @Test("a failing call throws its status; an unknown method is UNIMPLEMENTED")
    func failures() async throws {
        try await withServer { fixture in
            let channel = fixture.channel
            let (notFound, unknown) = await onOwnThread {
                (Result { () throws(GRPCStatus) -> [UInt8] in try channel.unaryBlocking(Path.notFound, request: Array("w1".utf8)) },
                 Result { () throws(GRPCStatus) -> [UInt8] in try channel.unaryBlocking("/no.Such/Method", request: []) })
            }
            #expect(throws: GRPCStatus(.notFound, "no such widget: w1")) { try notFound.get() }
            #expect { try unknown.get() } throws: { ($0 as? GRPCStatus)?.code == .unimplemented }
        }
    }

    @Test("a deadline is DEADLINE_EXCEEDED; a closed channel is UNAVAILABLE")
    func deadlineAndClosed() async throws {
        try await withServer { fixture in
            let channel = fixture.channel
            let late = await onOwnThread {
                Result { () throws(GRPCStatus) -> [UInt8] in
                    try channel.unaryBlocking(Path.slow, request: [], timeout: .milliseconds(100))
                }
            }
            #expect { try late.get() } throws: { ($0 as? GRPCStatus)?.code == .deadlineExceeded }
            let other = GRPCChannel(target: fixture.target)
            other.close()
            let closed = await onOwnThread { Result { () throws(GRPCStatus) -> [UInt8] in try other.unaryBlocking(Path.echo, request: []) } }
            #expect { try closed.get() } throws: { ($0 as? GRPCStatus)?.code == .unavailable }
        }
    }
}
