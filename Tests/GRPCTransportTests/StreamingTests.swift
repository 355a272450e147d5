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
            let consumer = Task {
                let stream = f.channel.serverStreaming(Path.forever, request: [], timeout: callTimeout) { $0 }
                var count = 0
                for try await _ in stream {
                    count += 1
                    if count == 3 { received.mark("three") }
                }
                return count
            }
            #expect(await received.wait(for: "three"))
            consumer.cancel()
            // An AsyncThrowingStream ends quietly when its consumer is cancelled.
            let result = await consumer.result
            #expect(((try? result.get()) ?? 0) >= 3, "consumer ended with \(result)")
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
            let stream = f.channel.serverStreaming(Path.forever, request: [], timeout: .milliseconds(300)) { $0 }
            let (elements, error) = await collect(stream)
            let status = try #require(error as? GRPCStatus, "stream ended with \(String(describing: error))")
            #expect(status.code == .deadlineExceeded)
            // Whatever arrived, arrived in order.
            #expect(elements.map(readU32) == (0..<elements.count).map { Optional($0) })
            #expect(await f.probe.wait(for: "forever.stopped"))
            #expect(f.probe.has("forever.cancelled"))
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
