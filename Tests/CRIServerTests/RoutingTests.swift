import CRIAPI
import CRIServer
import FascoCore
import GRPCTransport
import Logging
import Testing
import TestSupport

@Suite("CRI routing and error mapping")
struct RoutingTests {
    /// What answers UNIMPLEMENTED today (checkpoints).
    static let unimplemented: Set = ["CheckpointContainer"]

    @Test("every CRI RPC is routed: 30 RuntimeService and 5 ImageService methods")
    func everyRPCRouted() async throws {
        let server = try TestServer()
        await withCleanUp({ await server.stop() }) {
            let routes = CRIService(environment: .testDefault, images: server.images, logger: Logger(label: "test")).routes()
            let paths = Set(routes.map(\.path).filter { $0.hasPrefix("/runtime.v1.") })
            #expect(paths.count == 35)
            #expect(paths.filter { $0.hasPrefix("/runtime.v1.RuntimeService/") }.count == 30)
            #expect(paths.filter { $0.hasPrefix("/runtime.v1.ImageService/") }.count == 5)
            #expect(paths.contains("/runtime.v1.ImageService/PullImage"))
        }
    }

    @Test("RPCs not implemented yet answer UNIMPLEMENTED naming themselves")
    func unimplementedNamesRPC() async throws {
        let server = try TestServer()
        let routes = CRIService(environment: .testDefault, images: server.images, logger: Logger(label: "test")).routes()
        var checked = 0
        for route in routes {
            let rpc = String(route.path.split(separator: "/").last ?? "")
            guard route.path.hasPrefix("/runtime.v1."), Self.unimplemented.contains(rpc), case .unary = route.kind else { continue }
            let status = await statusOf { _ = try await server.channel.unary(route.path, request: []) }
            #expect(status?.code == .unimplemented, "\(rpc)")
            #expect(status?.message.contains(rpc) == true, "\(rpc): \(status?.message ?? "")")
            checked += 1
        }
        await server.stop()
        #expect(checked == Self.unimplemented.count)
    }

    @Test("pod and container RPCs of a server without a realm backend answer UNAVAILABLE, the event stream too")
    func withoutBackend() async throws {
        let server = try TestServer()
        let pods = await statusOf { _ = try await server.runtime.listPodSandbox() }
        let events = await statusOf {
            for try await _ in server.runtime.getContainerEvents() {}
        }
        await server.stop()
        #expect(pods?.code == .unavailable)
        #expect(events?.code == .unavailable)
        #expect(events?.message.contains("realm backend") == true)
    }

    @Test("bytes that do not decode are INVALID_ARGUMENT naming the message")
    func garbage() async throws {
        let server = try TestServer()
        let status = await statusOf {
            _ = try await server.channel.unary("/runtime.v1.RuntimeService/Version", request: [0xFF, 0xFF, 0xFF, 0x0F])
        }
        // The server still answers afterwards.
        let version = try await server.runtime.version()
        await server.stop()
        #expect(status?.code == .invalidArgument)
        #expect(status?.message.contains("VersionRequest") == true)
        #expect(version.runtimeName == "fasco")
    }

    @Test("an unknown method is UNIMPLEMENTED")
    func unknownMethod() async throws {
        let server = try TestServer()
        let status = await statusOf { _ = try await server.channel.unary("/runtime.v1.RuntimeService/NoSuchThing", request: []) }
        await server.stop()
        #expect(status?.code == .unimplemented)
        #expect(status?.message.contains("NoSuchThing") == true)
    }

    @Test("each FascoError code maps to its gRPC code")
    func fascoErrorMapping() {
        let expected: [FascoError.Code: GRPCStatus.Code] = [
            .invalidArgument: .invalidArgument, .notFound: .notFound, .alreadyExists: .alreadyExists,
            .failedPrecondition: .failedPrecondition, .resourceExhausted: .resourceExhausted,
            .unavailable: .unavailable, .deadlineExceeded: .deadlineExceeded, .unimplemented: .unimplemented,
            .unauthenticated: .unauthenticated, .permissionDenied: .permissionDenied, .internal: .internal,
        ]
        #expect(expected.count == FascoError.Code.allCases.count)
        for (code, grpc) in expected {
            let status = CRIService.status(for: FascoError(code, "msg \(code)"))
            #expect(status.code == grpc)
            #expect(status.message == "msg \(code)")
        }
        #expect(CRIService.status(for: CancellationError()).code == .cancelled)
        #expect(CRIService.status(for: CRIDecodingError(messageType: "X", byteCount: 2)).code == .invalidArgument)
    }
}
