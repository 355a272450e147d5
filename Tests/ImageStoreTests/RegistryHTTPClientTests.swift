import FascoCore
import Foundation
import ImageStore
import Testing

@Suite("HTTP client over libcurl")
struct RegistryHTTPClientTests {
    @Test("GET sends the request headers and reads status and headers case-insensitively")
    func getRoundTrip() async throws {
        let stub = try await StubRegistryServer(routes: [
            "GET /hello": .init([.json(200, #"{"ok":true}"#, headers: ["X-Custom-Thing": "value 1"])]),
        ])
        defer { stub.stop() }
        var headers = HTTPHeaders()
        headers.add("X-Request", "abc")
        let response = try await HTTPClient.shared.send(HTTPRequest(url: stub.url + "/hello", headers: headers))
        #expect(response.status == 200)
        #expect(response.headers["x-custom-thing"] == "value 1")
        #expect(response.headers["X-CUSTOM-THING"] == "value 1")
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"ok":true}"#)
        let logged = try await stub.requests("GET", "/hello")
        #expect(logged.count == 1)
        #expect(logged.first?.headers["x-request"] == "abc")
    }

    @Test("HEAD, POST and PUT carry their method and body")
    func methodsAndBodies() async throws {
        let stub = try await StubRegistryServer(routes: [
            "HEAD /thing": .init([.json(200, "", headers: ["Content-Length": "42"])]),
            "POST /thing": .init([.json(202, "")]),
            "PUT /thing": .init([.json(201, "")]),
        ])
        defer { stub.stop() }
        let head = try await HTTPClient.shared.send(HTTPRequest(.head, url: stub.url + "/thing"))
        #expect(head.status == 200 && head.body.isEmpty && head.headers["content-length"] == "42")
        let post = try await HTTPClient.shared.send(HTTPRequest(.post, url: stub.url + "/thing", body: []))
        #expect(post.status == 202)
        let put = try await HTTPClient.shared.send(HTTPRequest(.put, url: stub.url + "/thing", body: Array("payload".utf8)))
        #expect(put.status == 201)
        let logged = try await stub.requests()
        #expect(logged.map(\.method) == ["HEAD", "POST", "PUT"])
        #expect(logged.last?.body == "payload")
        #expect(logged.last?.headers["expect"] == nil)
    }

    @Test("a redirect to another host drops the Authorization header; a same-host redirect keeps it")
    func redirects() async throws {
        let stub = try await StubRegistryServer(routes: [
            "GET /elsewhere": .init([.json(307, "", headers: ["Location": "http://localhost:{port}/storage"])]),
            "GET /samehost": .init([.json(302, "", headers: ["Location": "http://127.0.0.1:{port}/storage"])]),
            "GET /storage": .init([.bytes(Array("blob".utf8))]),
        ])
        defer { stub.stop() }
        var headers = HTTPHeaders()
        headers.add("Authorization", "Bearer secret")
        let moved = try await HTTPClient.shared.send(HTTPRequest(url: stub.url + "/elsewhere", headers: headers))
        #expect(moved.status == 200 && moved.body == Array("blob".utf8))
        let same = try await HTTPClient.shared.send(HTTPRequest(url: stub.url + "/samehost", headers: headers))
        #expect(same.status == 200)
        let logged = try await stub.requests().map { ($0.path, $0.headers["authorization"]) }
        #expect(logged.count == 4)
        #expect(logged[0] == ("/elsewhere", "Bearer secret"))
        #expect(logged[1] == ("/storage", nil))
        #expect(logged[2] == ("/samehost", "Bearer secret"))
        #expect(logged[3] == ("/storage", "Bearer secret"))
    }

    @Test("a body over the limit is RESOURCE_EXHAUSTED")
    func bodyLimit() async throws {
        let stub = try await StubRegistryServer(routes: [
            "GET /big": .init([.bytes(randomTestBytes(100_000))]),
            "GET /stream": .init([Response(noLength: true, bytes: randomTestBytes(100_000))]),
        ])
        defer { stub.stop() }
        for path in ["/big", "/stream"] {
            let error = await #expect(throws: FascoError.self) {
                try await HTTPClient.shared.send(HTTPRequest(url: stub.url + path), maxBodySize: 10_000)
            }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.contains("10000") == true)
        }
    }

    @Test("a large body streams through a small buffer, pausing the transfer for a slow reader")
    func backpressure() async throws {
        let body = randomTestBytes(6 << 20)
        let stub = try await StubRegistryServer(routes: ["GET /large": .init([.bytes(body)])])
        defer { stub.stop() }
        var configuration = HTTPClient.Configuration()
        configuration.bufferHighWater = 64 << 10
        let client = HTTPClient(configuration: configuration)
        let transfer = try await client.start(HTTPRequest(url: stub.url + "/large"))
        #expect(transfer.response.contentLength == Int64(body.count))
        var received: [UInt8] = []
        var chunks = 0
        while let chunk = try await transfer.next() {
            #expect(chunk.count <= (64 << 10) + (128 << 10))
            received += chunk
            chunks += 1
            if chunks % 16 == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(received == body)
        #expect(chunks > 10)
    }

    @Test("connection refused is UNAVAILABLE with a connection transport error")
    func refused() async throws {
        let error = await #expect(throws: FascoError.self) {
            try await HTTPClient.shared.send(HTTPRequest(url: "http://127.0.0.1:1/v2/"))
        }
        #expect(error?.code == .unavailable)
        #expect(error?.transportError?.kind == .connection)
        #expect(error?.message.contains("GET http://127.0.0.1:1/v2/") == true)
    }

    @Test("header values with line breaks are refused before anything is sent")
    func headerInjection() async throws {
        var headers = HTTPHeaders()
        headers.add("Authorization", "Bearer x\r\nX-Evil: 1")
        let error = await #expect(throws: FascoError.self) {
            try await HTTPClient.shared.send(HTTPRequest(url: "http://127.0.0.1:1/", headers: headers))
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test("cancelling the task ends a request the server never answers, promptly")
    func cancelWhileWaiting() async throws {
        let stub = try await StubRegistryServer(routes: ["GET /hang": .init([Response(hang: 30)])])
        defer { stub.stop() }
        let started = ContinuousClock.now
        let task = Task { try await HTTPClient.shared.send(HTTPRequest(url: stub.url + "/hang")) }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - started < .seconds(20), "the request never answered did not hold the task")
        guard case .failure(let error) = result, let error = error as? FascoError else {
            Issue.record("expected a cancellation error, got \(result)")
            return
        }
        #expect(error.isCancellation)
    }

    @Test("many concurrent requests share the one curl thread")
    func concurrent() async throws {
        let stub = try await StubRegistryServer(routes: ["GET /n": .init([.bytes(randomTestBytes(200_000))])])
        defer { stub.stop() }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<24 {
                group.addTask { try await HTTPClient.shared.send(HTTPRequest(url: stub.url + "/n")).body.count }
            }
            for try await count in group { #expect(count == 200_000) }
        }
    }

    @Test("WWW-Authenticate challenges: quoted commas, several challenges, escapes, token68")
    func challenges() {
        let bearer = AuthChallenge.parse([#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#])
        #expect(bearer == [AuthChallenge(scheme: "bearer", parameters: [
            "realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push"])])
        let two = AuthChallenge.parse([#"Basic realm="a, b", Bearer realm="https://x/t", service=reg"#])
        #expect(two.map(\.scheme) == ["basic", "bearer"])
        #expect(two.first?["realm"] == "a, b")
        #expect(two.last?["service"] == "reg")
        let escaped = AuthChallenge.parse([#"BASIC Realm="say \"hi\"""#])
        #expect(escaped == [AuthChallenge(scheme: "basic", parameters: ["realm": #"say "hi""#])])
        let token68 = AuthChallenge.parse(["Negotiate abc+/==", "Basic"])
        #expect(token68 == [AuthChallenge(scheme: "negotiate", parameters: ["": "abc+/=="]),
                            AuthChallenge(scheme: "basic", parameters: [:])])
        #expect(AuthChallenge.parse(["", " , "]).isEmpty)
    }

    @Test("the challenge parser ends on arbitrary input")
    func challengeFuzz() {
        let alphabet = Array(#"Bb a=",\ r"#.utf8) + [0x09, 0xff]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let length = Int.random(in: 0..<40, using: &generator)
            let bytes = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
            let challenges = AuthChallenge.parse([String(decoding: bytes, as: UTF8.self)])
            #expect(challenges.count <= length)
        }
    }
}

private typealias Response = StubRegistryServer.Response

extension StubRegistryServer.Response {
    init(noLength: Bool, bytes: [UInt8]) {
        self = .bytes(bytes)
        self.noLength = noLength
    }
}
