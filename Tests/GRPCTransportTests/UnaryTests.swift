import Synchronization
import Testing
@testable import GRPCTransport

@Suite("Unary calls")
struct UnaryTests {
    @Test("echo round trip", arguments: [0, 1, 17, 4096, 1 << 20])
    func echo(size: Int) async throws {
        try await withServer { f in
            let request = pattern(size, seed: UInt32(size))
            let response = try await f.channel.unary(Path.echo, request: request, timeout: callTimeout)
            #expect(response.count == size)
            #expect(response == request)
        }
    }

    @Test("several calls reuse one channel")
    func sequentialCalls() async throws {
        try await withServer { f in
            for index in 0..<20 {
                let request = pattern(100 + index, seed: UInt32(index))
                let response = try await f.channel.unary(Path.echo, request: request, timeout: callTimeout)
                #expect(response == request)
            }
        }
    }

    @Test("handler sees the method path and whether the client set a deadline")
    func context() async throws {
        try await withServer { f in
            let without = try await f.channel.unary(Path.context, request: [], timeout: nil)
            #expect(String(decoding: without, as: UTF8.self) == "\(Path.context)|none")
            let with = try await f.channel.unary(Path.context, request: [], timeout: .seconds(60))
            #expect(String(decoding: with, as: UTF8.self) == "\(Path.context)|set")
        }
    }

    @Test("unknown method gets UNIMPLEMENTED naming the method")
    func unknownMethod() async throws {
        let reported = Mutex<[String]>([])
        try await withServer(configure: { config in
            config.onUnknownMethod = { method in reported.withLock { $0.append(method) } }
        }) { f in
            let method = "/fasco.test.Test/NoSuchMethod"
            let status = try await failure { try await f.channel.unary(method, request: [1, 2, 3], timeout: callTimeout) }
            #expect(status.code == .unimplemented)
            #expect(status.message.contains(method))
            #expect(reported.withLock { $0 } == [method])
            // The server still serves routed methods.
            let reply = try await f.channel.unary(Path.echo, request: [9], timeout: callTimeout)
            #expect(reply == [9])
        }
    }

    @Test("handler throwing GRPCStatus sends that code and message")
    func handlerThrowsStatus() async throws {
        try await withServer { f in
            let status = try await failure {
                try await f.channel.unary(Path.notFound, request: Array("sprocket-7".utf8), timeout: callTimeout)
            }
            #expect(status.code == .notFound)
            #expect(status.message == "no such widget: sprocket-7")
        }
    }

    @Test("status messages: control characters become spaces, UTF-8 survives, length is bounded")
    func statusMessageSanitising() async throws {
        try await withServer { f in
            let lines = try await failure {
                try await f.channel.unary(Path.statusMessage, request: Array("line1\nline2\tend".utf8), timeout: callTimeout)
            }
            #expect(lines.code == .notFound)
            #expect(lines.message == "line1 line2 end")

            let unicode = "widget “ünïcødé” ☃"
            let fancy = try await failure {
                try await f.channel.unary(Path.statusMessage, request: Array(unicode.utf8), timeout: callTimeout)
            }
            #expect(fancy.code == .notFound)
            #expect(fancy.message == unicode)

            let long = try await failure {
                try await f.channel.unary(Path.statusMessage, request: Array(String(repeating: "x", count: 5000).utf8),
                                          timeout: callTimeout)
            }
            #expect(long.code == .notFound)
            #expect(long.message == String(repeating: "x", count: 4096))
        }
    }

    @Test("handler throwing another error sends UNKNOWN with its description")
    func handlerThrowsOtherError() async throws {
        try await withServer { f in
            let status = try await failure { try await f.channel.unary(Path.boom, request: [], timeout: callTimeout) }
            #expect(status.code == .unknown)
            #expect(status.message.contains("boom-42"))
        }
    }

    @Test("handler throwing CancellationError sends CANCELLED")
    func handlerThrowsCancellation() async throws {
        try await withServer { f in
            let status = try await failure {
                try await f.channel.unary(Path.throwsCancellation, request: [], timeout: callTimeout)
            }
            #expect(status.code == .cancelled)
            #expect(status.message.contains("cancelled"))
        }
    }

    @Test("error to status mapping")
    func statusMapping() {
        #expect(GRPCServer.status(for: GRPCStatus(.alreadyExists, "dup")) == GRPCStatus(.alreadyExists, "dup"))
        #expect(GRPCServer.status(for: CancellationError()).code == .cancelled)
        let other = GRPCServer.status(for: Boom())
        #expect(other.code == .unknown)
        #expect(other.message == "boom-42")
        #expect(GRPCStatus(wireCode: 99, message: "x") == GRPCStatus(.unknown, "x"))
        #expect(GRPCStatus(wireCode: 14, message: "").code == .unavailable)
        #expect(GRPCStatus(.notFound, "gone").description == "NOT_FOUND: gone")
        #expect(GRPCStatus(.ok).description == "OK")
        for code in GRPCStatus.Code.allCases {
            #expect(GRPCStatus(wireCode: code.rawValue, message: "").code == code)
        }
    }

    @Test("200 concurrent calls each get their own payload back")
    func concurrentCalls() async throws {
        try await withServer { f in
            let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let request = u32(index) + pattern(index * 37 % 5000, seed: UInt32(index))
                        return (index, try await f.channel.unary(Path.echo, request: request, timeout: callTimeout))
                    }
                }
                var results: [Int: [UInt8]] = [:]
                for try await (index, response) in group { results[index] = response }
                return results
            }
            #expect(results.count == 200)
            for index in 0..<200 {
                #expect(results[index] == u32(index) + pattern(index * 37 % 5000, seed: UInt32(index)), "call \(index)")
            }
            #expect(await eventually { f.server.runningCalls == 0 })
        }
    }
}
