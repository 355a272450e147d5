@testable import CRIStreaming
import Testing

@Suite("HTTP request heads")
struct HTTPRequestHeadTests {
    @Test("a client-go upgrade request: repeated protocol headers, any case")
    func upgradeRequest() throws {
        let text = "POST /exec/abc?x=1 HTTP/1.1\r\nHost: 127.0.0.1:1234\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 0\r\n"
            + "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v5.channel.k8s.io\r\n"
            + "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nx-stream-protocol-version: v3.channel.k8s.io, v2.channel.k8s.io\r\n\r\n"
        let bytes = Array(text.utf8)
        let end = try #require(try HTTPRequestHead.end(in: bytes + [1, 2, 3], limit: 4096))
        #expect(end == bytes.count)
        let head = try HTTPRequestHead.parse(bytes[...])
        #expect(head.method == "POST")
        #expect(head.path == "/exec/abc")
        #expect(head.has("connection", token: "upgrade"))
        #expect(head.values("X-Stream-Protocol-Version") == ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"])
    }

    @Test("heads without an end within the limit, and malformed ones, are refused", arguments: [
        "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / SPDY/3\r\n\r\n",
        "GET noslash HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nX: \u{1}\r\n\r\n",
    ])
    func malformed(_ text: String) {
        #expect(throws: HTTPRequestHead.ParseError.self) { try HTTPRequestHead.parse(Array(text.utf8)[...]) }
    }

    @Test("a head that outgrows the limit is too large")
    func tooLarge() throws {
        let bytes = Array("GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 5000))".utf8)
        #expect(throws: HTTPRequestHead.ParseError.tooLarge) { try HTTPRequestHead.end(in: bytes, limit: 4096) }
        #expect(try HTTPRequestHead.end(in: Array(bytes.prefix(100)), limit: 4096) == nil)
    }
}
