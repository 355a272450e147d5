import Testing
@testable import GuestAPI

@Suite struct GuestAPIRouteTests {
    func request(_ head: String, body: String = "") throws -> GuestHTTPRequest {
        var request = try GuestHTTPRequest.parseHead(Array((head + "\r\n\r\n").utf8)[...])
        request.body = Array(body.utf8)
        return request
    }

    @Test func routesCoCoPaths() throws {
        #expect(GuestAPIRoute.route(try request("GET /info HTTP/1.1\r\nHost: x")) == .info)
        #expect(GuestAPIRoute.route(try request("GET /aa/evidence?runtime_data=abc HTTP/1.1")) == .evidence(runtimeData: Array("abc".utf8)))
        #expect(GuestAPIRoute.route(try request("GET /aa/evidence?runtime_data=a%20b+c HTTP/1.1")) == .evidence(runtimeData: Array("a b c".utf8)))
        #expect(GuestAPIRoute.route(try request("GET /aa/evidence?encoding=base64&runtime_data=AAEC_w HTTP/1.1"))
            == .evidence(runtimeData: [0, 1, 2, 255]))
        // Key release: routed; the server answers CoCo's 404 texts when the pod has no broker.
        #expect(GuestAPIRoute.route(try request("GET /aa/token?token_type=kbs HTTP/1.1")) == .kbsToken)
        #expect(GuestAPIRoute.route(try request("GET /cdh/resource/default/key/1 HTTP/1.1")) == .resource(path: "default/key/1"))
        #expect(GuestAPIRoute.route(try request("GET /cdh/secret/x HTTP/1.1")) == .answer(.text(404, "Resource Feature Not Enabled")))
        #expect(GuestAPIRoute.route(try request("GET /aa/token/x HTTP/1.1")) == .answer(.text(404, "Attestation Feature Not Enabled")))
        #expect(GuestAPIRoute.route(try request("GET /aa/token?token_type=jwt HTTP/1.1")).fixedResponse.status == 400)
        #expect(GuestAPIRoute.route(try request("GET /aa/token HTTP/1.1")).fixedResponse.status == 400)
        #expect(GuestAPIRoute.route(try request("POST /cdh/resource/a/b/c HTTP/1.1")) == GuestAPIRoute.methodNotAllowed)
        #expect(GuestAPIRoute.route(try request("GET /nothing HTTP/1.1")) == .answer(.text(404, "URL NOT FOUND")))
        #expect(GuestAPIRoute.route(try request("POST /info HTTP/1.1")) == GuestAPIRoute.methodNotAllowed)
        #expect(GuestAPIRoute.route(try request("GET /aa/aael HTTP/1.1")) == GuestAPIRoute.methodNotAllowed)
        #expect(GuestAPIRoute.route(try request("POST /aa/aael HTTP/1.1", body: #"{"domain":"d","operation":"op","content":"a b"}"#))
            == .event(text: "d op a b"))
    }

    @Test func refusesBadEvidenceRequests() throws {
        for target in [
            "/aa/evidence", "/aa/evidence?encoding=base64", "/aa/evidence?runtime_data=x&encoding=hex",
            "/aa/evidence?runtime_data=AAE=&encoding=base64", "/aa/evidence?runtime_data=A&encoding=base64",
            "/aa/evidence?runtime_data=AB&encoding=base64", "/aa/evidence?runtime_data=%zz",
            "/aa/evidence?runtime_data=" + String(repeating: "x", count: 65),
        ] {
            guard case .answer(let response) = GuestAPIRoute.route(try request("GET \(target) HTTP/1.1")) else {
                Issue.record("\(target) was accepted")
                continue
            }
            #expect(response.status == 400, "\(target)")
        }
        #expect(GuestAPIRoute.route(try request("GET /aa/evidence?runtime_data=" + String(repeating: "x", count: 64) + " HTTP/1.1"))
            == .evidence(runtimeData: Array(repeating: UInt8(ascii: "x"), count: 64)))
    }

    @Test func refusesBadEvents() throws {
        for body in [
            "", "not json", "[]", #"{"domain":"d","operation":"op"}"#, #"{"domain":"a b","operation":"op","content":"c"}"#,
            #"{"domain":"d","operation":"o\tp","content":"c"}"#, #"{"domain":"d","operation":"op","content":"c\nd"}"#,
            #"{"domain":"d","operation":"op","content":"c\r\nd"}"#, #"{"domain":"","operation":"op","content":"c"}"#,
            #"{"domain":1,"operation":"op","content":"c"}"#,
        ] {
            guard case .answer(let response) = GuestAPIRoute.route(try request("POST /aa/aael HTTP/1.1", body: body)) else {
                Issue.record("\(body) was accepted")
                continue
            }
            #expect(response.status == 400, "\(body)")
        }
    }

    @Test func parsesHeadsStrictly() throws {
        #expect(throws: GuestHTTPRequest.Failure.self) { try request("GET /info HTTP/2") }
        #expect(throws: GuestHTTPRequest.Failure.self) { try request("GET info HTTP/1.1") }
        #expect(throws: GuestHTTPRequest.Failure.self) { try request("GET /info HTTP/1.1\r\nno colon") }
        let chunked = try request("POST /aa/aael HTTP/1.1\r\nTransfer-Encoding: chunked")
        #expect(throws: GuestHTTPRequest.Failure.self) { try chunked.contentLength(limit: 100) }
        let large = try request("POST /aa/aael HTTP/1.1\r\nContent-Length: 101")
        #expect(throws: GuestHTTPRequest.Failure(status: 413, reason: "the body is larger than 100 bytes")) { try large.contentLength(limit: 100) }
        #expect(try request("POST /aa/aael HTTP/1.1\r\nContent-Length: 12").contentLength(limit: 100) == 12)
    }

    @Test func findsSocketInodes() {
        let table = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:1F46 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
               1: 0100007F:9C40 0100007F:1F46 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 20 4 30 10 -1
               2: 0100007F:1F46 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 20 4 30 10 -1
            """
        let server = GuestCallerLookup.Endpoint(address: UInt32(0x7f00_0001).bigEndian, port: 8006)
        let client = GuestCallerLookup.Endpoint(address: UInt32(0x7f00_0001).bigEndian, port: 40000)
        #expect(GuestCallerLookup.socketInode(in: table, local: client, remote: server) == 222)
        #expect(client.isLoopback)
        #expect(!GuestCallerLookup.Endpoint(address: UInt32(0x0a00_0001).bigEndian, port: 1).isLoopback)
    }
}
