import Testing
@testable import GRPCTransport

@Suite("Server streaming")
struct StreamingTests {
    @Test("all messages arrive in order, then the stream ends normally", arguments: [0, 1, 250])
    func inOrder(count: Int) async throws {
        try await withServer { f in
            let stream = f.channel.serverStreaming(Path.count, request: u32(count), timeout: callTimeout) { $0 }
            let (elements, error) = await collect(stream)
            #expect(error == nil, "stream ended with \(String(describing: error))")
            #expect(elements.map(readU32) == (0..<count).map { Optional($0) })
        }
    }

    @Test("a handler that throws after k messages: k messages, then its status", arguments: [0, 3])
    func throwsAfterSome(k: Int) async throws {
        try await withServer { f in
            let stream = f.channel.serverStreaming(Path.countThenFail, request: u32(k), timeout: callTimeout) { $0 }
            let (elements, error) = await collect(stream)
            #expect(elements.map(readU32) == (0..<k).map { Optional($0) })
            let status = try #require(error as? GRPCStatus, "stream ended with \(String(describing: error))")
            #expect(status.code == .dataLoss)
            #expect(status.message == "stopped after \(k)")
        }
    }

    @Test("unknown streaming method gets UNIMPLEMENTED")
    func unknownMethod() async throws {
        try await withServer { f in
            let stream = f.channel.serverStreaming("/fasco.test.Test/Nope", request: [], timeout: callTimeout) { $0 }
            let (elements, error) = await collect(stream)
            #expect(elements.isEmpty)
            let status = try #require(error as? GRPCStatus)
            #expect(status.code == .unimplemented)
            #expect(status.message.contains("/fasco.test.Test/Nope"))
        }
    }

    @Test("cancelling the consuming task stops the server handler")
    func consumerCancel() async throws {
        try await withServer { f in
            let received = Probe()
            let consumer = Task { () -> (count: Int, error: (any Error)?) in
                let stream = f.channel.serverStreaming(Path.forever, request: [], timeout: callTimeout) { $0 }
                var count = 0
                do {
                    for try await _ in stream {
                        count += 1
                        if count == 3 { received.mark("three") }
                    }
                } catch {
                    return (count, error)
                }
                return (count, nil)
            }
            #expect(await received.wait(for: "three"))
            consumer.cancel()
            let (count, error) = await consumer.value
            #expect(count >= 3)
            // The stream either ends quietly (the consumer's cancel finished it first) or with the
            // CANCELLED status of the call that the cancel tore down; both are fine, nothing else is.
            if let error {
                #expect((error as? GRPCStatus)?.code == .cancelled, "stream ended with \(error)")
            }
            #expect(await f.probe.wait(for: "forever.stopped"))
            #expect(f.probe.has("forever.cancelled"))
            #expect(await eventually { f.server.runningCalls == 0 })
        }
    }

    @Test("a decode error ends the stream with that error and cancels the call")
    func decodeError() async throws {
        try await withServer { f in
            struct Undecodable: Error {}
            let stream = f.channel.serverStreaming(Path.forever, request: [], timeout: callTimeout) { bytes -> Int in
                let index = readU32(bytes) ?? -1
                if index == 2 { throw Undecodable() }
                return index
            }
            var elements: [Int] = []
            var failure: (any Error)?
            do {
                for try await element in stream { elements.append(element) }
            } catch {
                failure = error
            }
            #expect(elements == [0, 1])
            #expect(failure is Undecodable)
            #expect(await f.probe.wait(for: "forever.stopped"))
            #expect(f.probe.has("forever.cancelled"))
        }
    }

    @Test("a stream past its deadline ends with DEADLINE_EXCEEDED and stops the handler")
    func deadline() async throws {
        try await withServer { f in
            // As for unary deadlines: retry when the deadline beat the handler's start.
            var observed = false
            for attempt in 1...5 where !observed {
                let tag = "deadline-\(attempt)"
                let stream = f.channel.serverStreaming(Path.forever, request: Array(tag.utf8),
                                                       timeout: .milliseconds(300)) { $0 }
                let (elements, error) = await collect(stream)
                let status = try #require(error as? GRPCStatus, "stream ended with \(String(describing: error))")
                #expect(status.code == .deadlineExceeded)
                // Whatever arrived, arrived in order.
                #expect(elements.map(readU32) == (0..<elements.count).map { Optional($0) })
                #expect(await eventually { f.server.runningCalls == 0 })
                if f.probe.has("forever.started:\(tag)") {
                    #expect(f.probe.has("forever.stopped:\(tag)"))
                    #expect(f.probe.has("forever.cancelled:\(tag)"))
                    observed = true
                }
            }
            #expect(observed, "the handler never started within the deadline in 5 attempts")
        }
    }

    @Test("many concurrent streams on one channel")
    func concurrentStreams() async throws {
        try await withServer { f in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let count = 10 + index
                        let stream = f.channel.serverStreaming(Path.count, request: u32(count), timeout: callTimeout) { $0 }
                        let (elements, error) = await collect(stream)
                        #expect(error == nil)
                        #expect(elements.map(readU32) == (0..<count).map { Optional($0) })
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
