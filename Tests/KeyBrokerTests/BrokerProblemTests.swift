import FoundationEssentials
import FascoCore
import ImageStore
import Testing
@testable import KeyBroker

@Suite struct BrokerProblemTests {
    @Test("a broker's answers map to codes, naming the broker, the step and the RFC 7807 problem type")
    func problemMapping() {
        let client = KeyBrokerClient(endpoint: BrokerEndpoint(url: "https://kbs.example:8080/"))
        let problem = Array(#"{"type":"https://github.com/confidential-containers/kbs/errors/PolicyDeny","detail":"denied by policy"}"#.utf8)
        for (status, code) in [(401, FascoError.Code.unauthenticated), (403, .permissionDenied), (404, .notFound), (400, .failedPrecondition),
                               (500, .unavailable), (503, .unavailable)] {
            let error = client.problem(HTTPResponse(status: status, headers: HTTPHeaders(), body: problem), step: "get resource kbs:///a/b/c")
            #expect(error.code == code, "\(status)")
            #expect(error.message == "key broker https://kbs.example:8080: get resource kbs:///a/b/c: HTTP \(status), problem type https://github.com/confidential-containers/kbs/errors/PolicyDeny: denied by policy")
        }
        let plain = client.problem(HTTPResponse(status: 502, headers: HTTPHeaders(), body: Array("bad\ngateway".utf8)), step: "auth")
        #expect(plain.message.hasSuffix("auth: HTTP 502: bad gateway") && plain.code == .unavailable)
        // A problem whose type and detail carry line breaks and escapes cannot forge log lines.
        let forged = Array(#"{"type":"x\nlevel=critical msg=forged","detail":"a\r\nb\u001b[31m\u2028c"}"#.utf8)
        let answer = client.problem(HTTPResponse(status: 403, headers: HTTPHeaders(), body: forged), step: "attest")
        #expect(answer.message.hasSuffix("problem type x level=critical msg=forged: a b [31m c"), "\(answer.message.debugDescription)")
    }

    @Test("the session cookie is taken from Set-Cookie")
    func cookie() {
        var headers = HTTPHeaders()
        headers.add("Set-Cookie", "other=1")
        headers.add("Set-Cookie", "kbs-session-id=abc123; Max-Age=300; Path=/kbs/v0")
        #expect(KeyBrokerClient.sessionCookie(headers) == "kbs-session-id=abc123")
        #expect(KeyBrokerClient.sessionCookie(HTTPHeaders()) == nil)
    }

    @Test("a session lasts until the token's exp or five minutes, less a margin")
    func sessionLife() {
        let soon = Int(Date().timeIntervalSince1970) + 60
        let token = "e30." + Base64URL.encode(Array("{\"exp\":\(soon)}".utf8)) + ".sig"
        let now = ContinuousClock.now
        let session = BrokerSession(endpoint: BrokerEndpoint(url: "http://k"), key: TEEKeyPair(), cookie: nil, token: token, now: now)
        #expect(session.expires < now + .seconds(50) && session.expires > now + .seconds(40))
        let long = BrokerSession(endpoint: BrokerEndpoint(url: "http://k"), key: TEEKeyPair(), cookie: nil, token: "opaque", now: now)
        #expect(long.expires == now + .seconds(285))
        let expired = "e30." + Base64URL.encode(Array("{\"exp\":1}".utf8)) + ".sig"
        #expect(!BrokerSession(endpoint: BrokerEndpoint(url: "http://k"), key: TEEKeyPair(), cookie: nil, token: expired).isValid)
    }
}
