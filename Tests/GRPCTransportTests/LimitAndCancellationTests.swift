import Testing
@testable import GRPCTransport

@Suite("Message size limits")
struct LimitTests {
    static let limit = 64 << 10

    @Test("a request over maxReceiveMessageBytes gets RESOURCE_EXHAUSTED and the server keeps serving")
    func requestTooLarge() async throws {
        try await withServer(configure: { $0.maxReceiveMessageBytes = Self.limit }) { f in
            let status = try await failure {
                try await f.channel.unary(Path.echo, request: pattern(Self.limit + 1), timeout: callTimeout)
            }
            #expect(status.code == .resourceExhausted)
            #expect(status.message.lowercased().contains("larger than max"))

            // Exactly at the limit is fine, and so is everything afterwards.
            let atLimit = pattern(Self.limit, seed: 3)
            let reply = try await f.channel.unary(Path.echo, request: atLimit, timeout: callTimeout)
            #expect(reply == atLimit)
            let small = try await f.channel.unary(Path.echo, request: [1, 2, 3], timeout: callTimeout)
            #expect(small == [1, 2, 3])
            // A fresh connection works too.
            let other = GRPCChannel(target: f.target)
            defer { other.close() }
            let fresh = try await other.unary(Path.echo, request: [4], timeout: callTimeout)
            #expect(fresh == [4])
            #expect(await eventually { f.server.runningCalls == 0 })
        }
    }

    @Test("a response over maxSendMessageBytes gets RESOURCE_EXHAUSTED")
    func responseTooLarge() async throws {
        try await withServer(configure: { $0.maxSendMessageBytes = Self.limit }) { f in
            let status = try await failure {
                try await f.channel.unary(Path.large, request: u32(Self.limit + 1), timeout: callTimeout)
            }
            #expect(status.code == .resourceExhausted)
            #expect(status.message.contains("\(Self.limit + 1) bytes exceeds the limit of \(Self.limit)"))

            let atLimit = try await f.channel.unary(Path.large, request: u32(Self.limit), timeout: callTimeout)
            #expect(atLimit == pattern(Self.limit))
        }
    }

    @Test("a response over the channel's maxReceiveMessageBytes gets RESOURCE_EXHAUSTED")
    func clientReceiveLimit() async throws {
        try await withServer(channelMaxReceive: 1024) { f in
            let status = try await failure { try await f.channel.unary(Path.large, request: u32(1025), timeout: callTimeout) }
            #expect(status.code == .resourceExhausted)
            #expect(status.message.lowercased().contains("larger than max"))
            let reply = try await f.channel.unary(Path.large, request: u32(1024), timeout: callTimeout)
            #expect(reply == pattern(1024))
        }
    }

    @Test("limits outside 1...Int32.max are refused", arguments: [0, -1, Int(Int32.max) + 1])
    func invalidLimits(limit: Int) throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let path = directory + "/s.sock"
        for receive in [true, false] {
            var config = GRPCServer.Configuration(socketPath: path)
            if receive { config.maxReceiveMessageBytes = limit } else { config.maxSendMessageBytes = limit }
            do {
                _ = try GRPCServer(configuration: config, methods: [])
                Issue.record("a server started with limit \(limit)")
            } catch {
                #expect(error.description.contains("message size limits"))
            }
            #expect(!exists(path))
        }
    }
}

@Suite("Cancellation and deadlines")
struct CancellationTests {
    @Test("cancelling the client task cancels the call on both sides")
    func clientCancel() async throws {
        try await withServer { f in
            let call = Task { try await f.channel.unary(Path.slow, request: [], timeout: callTimeout) }
            #expect(await f.probe.wait(for: "slow.started"))
            call.cancel()
            let status = try await failure { try await call.value }
            #expect(status.code == .cancelled)
            #expect(status.message.lowercased().contains("cancel"))
            #expect(await f.probe.wait(for: "slow.cancelled"))
            #expect(!f.probe.has("slow.finished"))
            #expect(await eventually { f.server.runningCalls == 0 })
            // The connection is still good.
            let reply = try await f.channel.unary(Path.echo, request: [7], timeout: callTimeout)
            #expect(reply == [7])
        }
    }

    @Test("a task cancelled before the call starts gets CANCELLED")
    func cancelledBeforeStart() async throws {
        try await withServer { f in
            let call = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await f.channel.unary(Path.slow, request: [], timeout: callTimeout)
            }
            let status = try await failure { try await call.value }
            #expect(status.code == .cancelled)
        }
    }

    @Test("an expired deadline gives DEADLINE_EXCEEDED and cancels the handler")
    func deadline() async throws {
        try await withServer { f in
            // On a loaded machine 200 ms can pass before the handler even starts; then there is
            // nothing to observe on the server side, so try again (each attempt is tagged).
            var observed = false
            for attempt in 1...5 where !observed {
                let tag = "deadline-\(attempt)"
                let status = try await failure {
                    try await f.channel.unary(Path.slow, request: Array(tag.utf8), timeout: .milliseconds(200))
                }
                #expect(status.code == .deadlineExceeded)
                #expect(status.message.lowercased().contains("deadline"))
                // The handler sleeps for ten minutes unless cancelled: once no call runs, it saw the cancel.
                #expect(await eventually { f.server.runningCalls == 0 })
                if f.probe.has("slow.started:\(tag)") {
                    #expect(f.probe.has("slow.cancelled:\(tag)"))
                    observed = true
                }
            }
            #expect(observed, "the handler never started within the deadline in 5 attempts")
            #expect(!f.probe.has("slow.finished"))
        }
    }

    @Test("a zero or negative timeout fails with DEADLINE_EXCEEDED", arguments: [Duration.zero, .seconds(-1)])
    func zeroTimeout(timeout: Duration) async throws {
        try await withServer { f in
            // (With an instant handler the call may legitimately win the race against its deadline.)
            let status = try await failure { try await f.channel.unary(Path.slow, request: [], timeout: timeout) }
            #expect(status.code == .deadlineExceeded)
            #expect(await eventually { f.server.runningCalls == 0 })
        }
    }
}
