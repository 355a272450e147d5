import Testing
@testable import GRPCTransport

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test("a call in flight finishes within the grace period; then the socket is gone and calls get UNAVAILABLE")
    func gracefulFinish() async throws {
        try await withServer { f in
            let call = Task { try await f.channel.unary(Path.delayed, request: [4, 5, 6], timeout: callTimeout) }
            #expect(await f.probe.wait(for: "delayed.started"))
            await f.server.shutdown(gracePeriod: .seconds(5))
            #expect(f.probe.has("delayed.finished"))
            #expect(try await call.value == [4, 5, 6])
            #expect(f.server.runningCalls == 0)
            #expect(!exists(f.socketPath))

            let again = try await failure { try await f.channel.unary(Path.echo, request: [1], timeout: callTimeout) }
            #expect(again.code == .unavailable)
            let fresh = GRPCChannel(target: f.target)
            defer { fresh.close() }
            let refused = try await failure { try await fresh.unary(Path.echo, request: [1], timeout: callTimeout) }
            #expect(refused.code == .unavailable)

            // A second shutdown is a no-op.
            await f.server.shutdown(gracePeriod: .seconds(5))
        }
    }

    @Test("an idle server shuts down and removes its socket")
    func idleShutdown() async throws {
        try await withServer { f in
            let reply = try await f.channel.unary(Path.echo, request: [1], timeout: callTimeout)
            #expect(reply == [1])
            #expect(isSocket(f.socketPath))
            await f.server.shutdown(gracePeriod: .seconds(5))
            #expect(!exists(f.socketPath))
        }
    }

    @Test("a handler still running after the grace period is cancelled and shutdown returns")
    func graceExpires() async throws {
        try await withServer { f in
            let call = Task { try await f.channel.unary(Path.slow, request: [], timeout: callTimeout) }
            #expect(await f.probe.wait(for: "slow.started"))
            let started = ContinuousClock.now
            await f.server.shutdown(gracePeriod: .milliseconds(300))
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(20), "shutdown took \(elapsed)")
            #expect(f.probe.has("slow.cancelled"))
            #expect(!f.probe.has("slow.finished"))
            #expect(!exists(f.socketPath))
            let status = try await failure { try await call.value }
            #expect(status.code != .ok)
            #expect([.cancelled, .unavailable].contains(status.code), "got \(status)")
        }
    }

    @Test("a handler that ignores cancellation: shutdown returns without waiting for it, and its late finish is harmless")
    func handlerIgnoresCancellation() async throws {
        try await withServer { f in
            let call = Task { try await f.channel.unary(Path.stubborn, request: [], timeout: callTimeout) }
            #expect(await f.probe.wait(for: "stubborn.started"))
            let started = ContinuousClock.now
            await f.server.shutdown(gracePeriod: .milliseconds(300))
            // Shutdown does not wait for the handler: it returned while the handler still runs.
            // (The flag, not a clock: on a loaded host shutdown itself may take longer than the handler's extra time.)
            #expect(!f.probe.has("stubborn.finished"), "shutdown waited for a handler that ignores cancellation (after \(ContinuousClock.now - started))")
            #expect(f.probe.has("stubborn.cancelled"))
            #expect(!exists(f.socketPath))
            let status = try await failure { try await call.value }
            #expect(status.code != .ok)
            // The handler finishes its call after the server stopped; that must not crash the process.
            #expect(await f.probe.wait(for: "stubborn.finished", timeout: stubbornExtra + .seconds(10)))
            #expect(await eventually { f.server.runningCalls == 0 })
            // Meanwhile a new server can take over the path, and the old one's teardown leaves it alone.
            let probe = Probe()
            let next = try GRPCServer(configuration: GRPCServer.Configuration(socketPath: f.socketPath),
                                      methods: testMethods(probe))
            let channel = GRPCChannel(target: f.target)
            let reply = try? await channel.unary(Path.echo, request: [5], timeout: callTimeout)
            #expect(reply == [5])
            #expect(isSocket(f.socketPath))
            await next.shutdown(gracePeriod: .milliseconds(100))
            channel.close()
        }
    }

    @Test("a streaming handler is cancelled by shutdown and the client sees a non-OK end")
    func shutdownStopsStream() async throws {
        try await withServer { f in
            let received = Probe()
            let consumer = Task { () -> (any Error)? in
                let stream = f.channel.serverStreaming(Path.forever, request: [], timeout: callTimeout) { $0 }
                var count = 0
                do {
                    for try await _ in stream {
                        count += 1
                        if count == 3 { received.mark("three") }
                    }
                } catch {
                    return error
                }
                return nil
            }
            #expect(await received.wait(for: "three"))
            let started = ContinuousClock.now
            await f.server.shutdown(gracePeriod: .milliseconds(200))
            #expect(ContinuousClock.now - started < .seconds(20))
            #expect(f.probe.has("forever.stopped"))
            let error = await consumer.value
            let status = try #require(error as? GRPCStatus, "stream ended with \(String(describing: error))")
            #expect(status.code != .ok)
        }
    }
}

@Suite("Closed channel")
struct ClosedChannelTests {
    @Test("calls after close() fail with UNAVAILABLE")
    func closed() async throws {
        try await withServer { f in
            let channel = GRPCChannel(target: f.target)
            let reply = try await channel.unary(Path.echo, request: [1], timeout: callTimeout)
            #expect(reply == [1])
            channel.close()
            channel.close()  // idempotent
            let status = try await failure { try await channel.unary(Path.echo, request: [1], timeout: callTimeout) }
            #expect(status.code == .unavailable)
            #expect(status.message.contains("closed"))

            let (elements, error) = await collect(channel.serverStreaming(Path.count, request: u32(3)) { $0 })
            #expect(elements.isEmpty)
            let streamStatus = try #require(error as? GRPCStatus)
            #expect(streamStatus.code == .unavailable)
            #expect(streamStatus.message.contains("closed"))

            // Other channels are unaffected.
            let unaffected = try await f.channel.unary(Path.echo, request: [2], timeout: callTimeout)
            #expect(unaffected == [2])
        }
    }

    @Test("a channel to a socket nobody listens on gets UNAVAILABLE")
    func nobodyListening() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let channel = GRPCChannel(target: "unix://" + directory + "/missing.sock")
        defer { channel.close() }
        let status = try await failure { try await channel.unary(Path.echo, request: [1], timeout: callTimeout) }
        #expect(status.code == .unavailable)
    }
}
