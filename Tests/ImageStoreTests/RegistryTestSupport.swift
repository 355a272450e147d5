import FascoCore
import Foundation
import ImageStore
import OCISpec
import Testing

// Fixtures for the registry client tests: real docker-registry instances, a programmable
// Python HTTP stub, TLS material from openssl, and pushing test images.

struct RegistryTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A temporary directory, removed by `remove()`.
struct RegistryTestDirectory: Sendable {
    let path: String

    init(_ label: String) throws {
        path = "/tmp/fasco-registry-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A child process this test started; stopped by its own pid.
final class RegistryTestProcess: @unchecked Sendable {
    // SAFETY: `process` is configured and launched in init, then only queried and
    // terminated; Foundation's Process is internally synchronised for those.
    private let process = Process()
    let logPath: String

    init(_ executable: String, _ arguments: [String], logPath: String) throws {
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Runs a command to completion without holding a cooperative thread; throws with its
/// output when it fails.
@discardableResult
func runRegistryTestCommand(_ executable: String, _ arguments: [String]) async throws -> String {
    let outputPath = "/tmp/fasco-registry-command-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    defer { try? output.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = output
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    guard status == 0 else {
        throw RegistryTestError("\(executable) \(arguments.joined(separator: " ")) failed: \(text)")
    }
    return text
}

/// A CA and a server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1).
struct RegistryTestTLS: Sendable {
    let caCertificate: String
    let serverCertificate: String
    let serverKey: String

    static func make(in directory: RegistryTestDirectory) async throws -> RegistryTestTLS {
        let openssl = "/usr/bin/openssl"
        let ca = directory.file("ca.crt"), caKey = directory.file("ca.key")
        let csr = directory.file("server.csr"), cert = directory.file("server.crt"), key = directory.file("server.key")
        try await runRegistryTestCommand(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                             "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=Fasco Test CA",
                                             "-addext", "basicConstraints=critical,CA:TRUE",
                                             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try await runRegistryTestCommand(openssl, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                             "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
        try directory.write("server.ext", """
            subjectAltName=IP:127.0.0.1
            basicConstraints=CA:FALSE
            keyUsage=critical,digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth

            """)
        try await runRegistryTestCommand(openssl, ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
                                             "-out", cert, "-days", "2", "-extfile", directory.file("server.ext")])
        return RegistryTestTLS(caCertificate: ca, serverCertificate: cert, serverKey: key)
    }
}

/// A private docker-registry (Debian's distribution 2.8) on 127.0.0.1, with temporary storage.
final class TestRegistry: Sendable {
    struct Options: Sendable {
        var htpasswd: (username: String, password: String)?
        var tls = false

        static let plain = Options()
        static func basicAuth(_ username: String, _ password: String) -> Options { Options(htpasswd: (username, password)) }
        static let https = Options(tls: true)
    }

    let directory: RegistryTestDirectory
    let process: RegistryTestProcess
    let port: Int
    let tls: RegistryTestTLS?
    let credentials: RegistryCredentials

    /// `127.0.0.1:PORT`, as image names spell the registry.
    var host: String { "127.0.0.1:\(port)" }
    var url: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)" }
    var storage: String { directory.file("storage") }
    var endpoint: RegistryEndpoint { RegistryEndpoint(url: url, caFile: tls?.caCertificate) }
    var tlsOptions: TLSOptions { TLSOptions(caFile: tls?.caCertificate) }

    @TaskLocal static var current: TestRegistry?

    private init(directory: RegistryTestDirectory, process: RegistryTestProcess, port: Int, tls: RegistryTestTLS?, credentials: RegistryCredentials) {
        self.directory = directory
        self.process = process
        self.port = port
        self.tls = tls
        self.credentials = credentials
    }

    /// Starts a registry on a random free port in 15000-15999 (another one when the port is taken).
    static func start(_ options: Options) async throws -> TestRegistry {
        let directory = try RegistryTestDirectory("registry")
        do {
            let tls = options.tls ? try await RegistryTestTLS.make(in: directory) : nil
            var credentials = RegistryCredentials()
            if let (username, password) = options.htpasswd {
                let line = try await runRegistryTestCommand("/usr/bin/htpasswd", ["-Bbn", username, password])
                try directory.write("htpasswd", line.trimmingCharacters(in: .whitespacesAndNewlines) + "\n")
                credentials = RegistryCredentials(username: username, password: password)
            }
            var lastLog = ""
            for _ in 0..<12 {
                let port = Int.random(in: 15000...15999)
                var config = """
                    version: 0.1
                    log:
                      level: info
                      accesslog:
                        disabled: true
                    storage:
                      filesystem:
                        rootdirectory: \(directory.file("storage"))
                      delete:
                        enabled: true
                    http:
                      addr: 127.0.0.1:\(port)
                      secret: fasco-test-secret

                    """
                if let tls {
                    config += """
                          tls:
                            certificate: \(tls.serverCertificate)
                            key: \(tls.serverKey)

                        """
                }
                if options.htpasswd != nil {
                    config += """
                        auth:
                          htpasswd:
                            realm: fasco-test
                            path: \(directory.file("htpasswd"))

                        """
                }
                try directory.write("config.yml", config)
                let process = try RegistryTestProcess("/usr/bin/docker-registry", ["serve", directory.file("config.yml")],
                                                      logPath: directory.file("registry-\(port).log"))
                let registry = TestRegistry(directory: directory, process: process, port: port, tls: tls, credentials: credentials)
                if try await registry.waitUntilServing() { return registry }
                lastLog = process.log
                process.stop()
            }
            throw RegistryTestError("docker-registry did not start: \(lastLog)")
        } catch {
            directory.remove()
            throw error
        }
    }

    /// True once this process listens and /v2/ answers; false when it could not bind the port.
    private func waitUntilServing() async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            guard process.isRunning, !process.log.contains("address already in use") else { return false }
            // Only our own registry logs that it listens: another one on the port would answer too.
            if process.log.contains("listening on 127.0.0.1:\(port)"),
               let response = try? await HTTPClient.shared.send(HTTPRequest(url: url + "/v2/", tls: tlsOptions, timeout: .seconds(2))),
               response.status == 200 || response.status == 401 {
                return true
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RegistryTestError("docker-registry on port \(port) did not answer: \(process.log)")
    }

    func stop() {
        process.stop()
        directory.remove()
    }

    /// Where the registry keeps a blob's bytes.
    func blobDataPath(_ digest: Digest) -> String {
        "\(storage)/docker/registry/v2/blobs/\(digest.algorithm.rawValue)/\(digest.encoded.prefix(2))/\(digest.encoded)/data"
    }

    func client(endpoints: [RegistryEndpoint]? = nil, credentials: RegistryCredentials? = nil,
                retryPolicy: RegistryRetryPolicy = RegistryRetryPolicy()) throws -> RegistryClient {
        try RegistryClient(host: host, endpoints: endpoints ?? [endpoint], credentials: credentials ?? self.credentials,
                           retryPolicy: retryPolicy)
    }

    var pusher: RegistryTestPusher {
        RegistryTestPusher(baseURL: url, tls: tlsOptions,
                           authorization: credentials.username.isEmpty ? nil
                               : "Basic " + Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString())
    }
}

/// Runs a suite inside one registry: started before its first test, stopped after its last.
struct TestRegistryScope: SuiteTrait, TestScoping {
    let options: TestRegistry.Options

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let registry = try await TestRegistry.start(options)
        defer { registry.stop() }
        try await TestRegistry.$current.withValue(registry) { try await function() }
    }
}

extension Trait where Self == TestRegistryScope {
    static func testRegistry(_ options: TestRegistry.Options = .plain) -> Self { TestRegistryScope(options: options) }
}

extension TestRegistry {
    /// The suite's registry (see `.testRegistry`).
    static func suite() throws -> TestRegistry {
        guard let current else { throw RegistryTestError("the suite has no .testRegistry trait") }
        return current
    }
}

/// Pushes content with the distribution API's monolithic upload.
struct RegistryTestPusher: Sendable {
    let baseURL: String
    let tls: TLSOptions
    let authorization: String?

    private func headers(_ extra: [(String, String)] = []) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if let authorization { headers.add("Authorization", authorization) }
        for (name, value) in extra { headers.add(name, value) }
        return headers
    }

    @discardableResult
    func pushBlob(_ repository: String, _ bytes: [UInt8]) async throws -> Digest {
        let digest = Digest.of(bytes)
        let start = try await HTTPClient.shared.send(HTTPRequest(.post, url: "\(baseURL)/v2/\(repository)/blobs/uploads/",
                                                                 headers: headers(), body: [], tls: tls))
        guard start.status == 202, let location = start.headers["Location"] else {
            throw RegistryTestError("upload start answered \(start.status): \(String(decoding: start.body, as: UTF8.self))")
        }
        let absolute = location.hasPrefix("http") ? location : baseURL + location
        let url = absolute + (absolute.contains("?") ? "&" : "?") + "digest=\(digest)"
        let put = try await HTTPClient.shared.send(HTTPRequest(.put, url: url, headers: headers([("Content-Type", "application/octet-stream")]),
                                                               body: bytes, tls: tls))
        guard put.status == 201 else {
            throw RegistryTestError("blob upload answered \(put.status): \(String(decoding: put.body, as: UTF8.self))")
        }
        return digest
    }

    @discardableResult
    func pushManifest(_ repository: String, reference: String, _ bytes: [UInt8], mediaType: String) async throws -> Digest {
        let response = try await HTTPClient.shared.send(HTTPRequest(.put, url: "\(baseURL)/v2/\(repository)/manifests/\(reference)",
                                                                    headers: headers([("Content-Type", mediaType)]), body: bytes, tls: tls))
        guard response.status == 201 else {
            throw RegistryTestError("manifest push answered \(response.status): \(String(decoding: response.body, as: UTF8.self))")
        }
        return Digest.of(bytes)
    }

    /// Pushes config and layers, then the manifest under `tag`.
    @discardableResult
    func pushImage(_ repository: String, tag: String, image: RegistryTestImage) async throws -> Digest {
        try await pushBlob(repository, image.config)
        for layer in image.layers { try await pushBlob(repository, layer) }
        return try await pushManifest(repository, reference: tag, image.manifest, mediaType: MediaType.ociManifest)
    }
}

/// An image made of random bytes: a config, layers and its OCI manifest.
struct RegistryTestImage: Sendable {
    let config: [UInt8]
    let layers: [[UInt8]]
    let manifest: [UInt8]
    let platform: Platform

    var manifestDigest: Digest { Digest.of(manifest) }
    var descriptor: Descriptor {
        Descriptor(mediaType: MediaType.ociManifest, digest: manifestDigest.description, size: Int64(manifest.count), platform: platform)
    }

    init(layerSizes: [Int], platform: Platform = Platform(architecture: "amd64", os: "linux")) throws {
        self.platform = platform
        let config = Array(#"{"architecture":"\#(platform.architecture)","os":"\#(platform.os)","nonce":"\#(UUID().uuidString)","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let layers = layerSizes.map(randomTestBytes)
        let manifest = Manifest(
            config: Descriptor(mediaType: MediaType.ociConfig, digest: Digest.of(config).description, size: Int64(config.count)),
            layers: layers.map { Descriptor(mediaType: MediaType.ociLayerGzip, digest: Digest.of($0).description, size: Int64($0.count)) })
        self.config = config
        self.layers = layers
        self.manifest = Array(try JSONEncoder().encode(manifest))
    }
}

func randomTestBytes(_ count: Int) -> [UInt8] {
    guard count > 0 else { return [] }
    let data = FileHandle(forReadingAtPath: "/dev/urandom")?.readData(ofLength: count) ?? Data()
    precondition(data.count == count, "/dev/urandom gave \(data.count) of \(count) bytes")
    return Array(data)
}

func makeTestIndex(_ manifests: [Descriptor]) throws -> [UInt8] {
    Array(try JSONEncoder().encode(Index(manifests: manifests)))
}

/// Collects what `fetchBlob` streams.
final class RegistryTestSink: @unchecked Sendable {
    // SAFETY: used from one task at a time (the fetch calls the sink sequentially and the
    // test reads it only after the fetch returned); the lock makes that explicit.
    private let lock = NSLock()
    private var storage: [UInt8] = []
    private var offsets: [Int64] = []

    func receive(_ bytes: UnsafeRawBufferPointer, at offset: Int64) {
        lock.withLock {
            offsets.append(offset)
            if offset == 0 { storage = [] }
            storage.append(contentsOf: bytes)
        }
    }

    var bytes: [UInt8] { lock.withLock { storage } }
    var chunkOffsets: [Int64] { lock.withLock { offsets } }
}

// MARK: - Programmable HTTP stub

/// A Python HTTP server answering from a route table, logging every request: for what a
/// real registry will not do on demand (503s, slow bodies, Bearer token auth).
final class StubRegistryServer: Sendable {
    struct Response: Encodable, Sendable {
        var status = 200
        var headers: [String: String] = [:]
        var body: String?
        var bodyBase64: String?
        /// Seconds to wait before answering.
        var hang: Double?
        /// Stream `total` zero bytes, `chunk` at a time, `interval` seconds apart.
        var trickle: Trickle?
        /// Honour `Range: bytes=N-` with a 206.
        var ranges: Bool?
        /// No Content-Length: the body ends when the connection closes.
        var noLength: Bool?
        /// Send only this many bytes of the body, then drop the connection.
        var truncateAt: Int?

        enum CodingKeys: String, CodingKey {
            case status, headers, body, hang, trickle, ranges
            case bodyBase64 = "body_base64"
            case noLength = "no_length"
            case truncateAt = "truncate_at"
        }

        struct Trickle: Encodable, Sendable {
            var chunk: Int
            var interval: Double
            var total: Int
        }

        static func json(_ status: Int, _ text: String, headers: [String: String] = [:]) -> Response {
            var headers = headers
            headers["Content-Type"] = headers["Content-Type"] ?? "application/json"
            return Response(status: status, headers: headers, body: text)
        }

        static func bytes(_ bytes: [UInt8], status: Int = 200, headers: [String: String] = [:]) -> Response {
            Response(status: status, headers: headers, bodyBase64: Data(bytes).base64EncodedString())
        }

        static func registryError(_ status: Int, code: String, message: String) -> Response {
            json(status, #"{"errors":[{"code":"\#(code)","message":"\#(message)","detail":null}]}"#)
        }
    }

    struct Route: Encodable, Sendable {
        /// Served in order; the last one repeats.
        var responses: [Response]
        /// Requests without exactly this Authorization header get `unauthorized`.
        var requireAuth: String?
        var unauthorized: Response?

        enum CodingKeys: String, CodingKey {
            case responses, unauthorized
            case requireAuth = "require_auth"
        }

        init(_ responses: [Response], requireAuth: String? = nil, unauthorized: Response? = nil) {
            self.responses = responses
            self.requireAuth = requireAuth
            self.unauthorized = unauthorized
        }
    }

    struct LoggedRequest: Decodable, Sendable {
        let method: String
        let path: String
        let query: String
        let headers: [String: String]
        let body: String

        /// Query parameters, decoded.
        var parameters: [String: String] { Self.decodeForm(query) }
        var form: [String: String] { Self.decodeForm(body) }

        static func decodeForm(_ text: String) -> [String: String] {
            var result: [String: String] = [:]
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
                if parts.count == 2 { result[parts[0]] = parts[1] }
            }
            return result
        }
    }

    private struct Config: Encodable {
        let routes: [String: Route]
    }

    let directory: RegistryTestDirectory
    let process: RegistryTestProcess
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }
    var host: String { "127.0.0.1:\(port)" }

    /// `routes` maps "METHOD /path" to its answers; "{port}" in any string is the server's port.
    init(routes: [String: Route]) async throws {
        directory = try RegistryTestDirectory("stub")
        do {
            try Data(JSONEncoder().encode(Config(routes: routes))).write(to: URL(fileURLWithPath: directory.file("routes.json")))
            try directory.write("stub.py", stubServerScript)
            process = try RegistryTestProcess("/usr/bin/env", ["python3", directory.file("stub.py"), directory.file("routes.json"), directory.file("port")],
                                              logPath: directory.file("stub.log"))
            let deadline = ContinuousClock.now + .seconds(20)
            var port: Int?
            while port == nil && ContinuousClock.now < deadline {
                if let text = try? String(contentsOfFile: directory.file("port"), encoding: .utf8) { port = Int(text) }
                if port == nil {
                    guard process.isRunning else { throw RegistryTestError("the stub server died: \(process.log)") }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            guard let port else { throw RegistryTestError("the stub server did not start: \(process.log)") }
            self.port = port
        } catch {
            directory.remove()
            throw error
        }
    }

    func stop() {
        process.stop()
        directory.remove()
    }

    /// Every request so far, in order.
    func requests() async throws -> [LoggedRequest] {
        let response = try await HTTPClient.shared.send(HTTPRequest(url: url + "/__log"), maxBodySize: 64 << 20)
        return try JSONDecoder().decode([LoggedRequest].self, from: Data(response.body))
    }

    func requests(_ method: String, _ path: String) async throws -> [LoggedRequest] {
        try await requests().filter { $0.method == method && $0.path == path }
    }
}

private let stubServerScript = #"""
import base64, json, os, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

config_path, port_path = sys.argv[1], sys.argv[2]
lock = threading.Lock()
log = []
served = {}
routes = {}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/__log":
            with lock:
                data = json.dumps(log)
            return self.reply({"status": 200, "body": data, "headers": {"Content-Type": "application/json"}})
        key = self.command + " " + path
        with lock:
            log.append({"method": self.command, "path": path, "query": query,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode("latin-1")})
            route = routes.get(key)
            if route is None:
                spec = {"status": 404, "headers": {"Content-Type": "application/json"},
                        "body": '{"errors":[{"code":"NOT_FOUND","message":"no such route in the stub"}]}'}
            elif route.get("require_auth") and self.headers.get("Authorization") != route["require_auth"]:
                spec = route.get("unauthorized") or {"status": 401}
            else:
                index = served.get(key, 0)
                served[key] = index + 1
                responses = route["responses"]
                spec = responses[min(index, len(responses) - 1)]
        self.reply(spec)

    def reply(self, spec):
        if spec.get("hang"):
            time.sleep(spec["hang"])
        status = spec.get("status", 200)
        headers = dict(spec.get("headers") or {})
        if spec.get("body_base64") is not None:
            body = base64.b64decode(spec["body_base64"])
        else:
            body = (spec.get("body") or "").encode()
        requested = self.headers.get("Range")
        if spec.get("ranges") and requested and requested.startswith("bytes="):
            start = int(requested[6:].split("-")[0])
            total = len(body)
            body = body[start:]
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, total - 1, total)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        try:
            trickle = spec.get("trickle")
            if trickle:
                self.send_header("Content-Length", str(trickle["total"]))
                self.end_headers()
                sent = 0
                while sent < trickle["total"]:
                    n = min(trickle["chunk"], trickle["total"] - sent)
                    self.wfile.write(b"\0" * n)
                    self.wfile.flush()
                    sent += n
                    time.sleep(trickle["interval"])
                return
            if spec.get("no_length"):
                self.send_header("Connection", "close")
                self.close_connection = True
            elif "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if spec.get("truncate_at") is not None:
                self.wfile.write(body[:spec["truncate_at"]])
                self.wfile.flush()
                self.close_connection = True
                return
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = handle_any

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

server = Server(("127.0.0.1", 0), Handler)
port = server.server_address[1]
with open(config_path) as f:
    routes = json.loads(f.read().replace("{port}", str(port)))["routes"]
with open(port_path + ".tmp", "w") as f:
    f.write(str(port))
os.rename(port_path + ".tmp", port_path)
server.serve_forever()
"""#
