import CRIAPI
import CRIServer
import GRPCTransport
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A CRIService served in-process on a temporary unix socket, with a client channel to it.
final class TestServer: Sendable {
    let directory: String
    let server: GRPCServer
    let channel: GRPCChannel

    init(environment: RuntimeEnvironment = .testDefault) throws {
        var template = Array("/tmp/fasco-cri-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw GRPCStatus(.internal, "mkdtemp failed") }
        directory = String(cString: made)
        let service = CRIService(environment: environment, logger: Logger(label: "test"))
        server = try GRPCServer(configuration: .init(socketPath: directory + "/cri.sock"), methods: service.routes())
        channel = GRPCChannel(target: "unix://" + directory + "/cri.sock")
    }

    var runtime: RuntimeServiceClient { RuntimeServiceClient(channel: channel) }
    var images: ImageServiceClient { ImageServiceClient(channel: channel) }

    func stop() async {
        channel.close()
        await server.shutdown(gracePeriod: .seconds(1))
        rmdir(directory)
    }
}

extension RuntimeEnvironment {
    static let testDefault = RuntimeEnvironment(
        runtimeVersion: "9.9.9-test", runtimeHandlers: ["fasco"], cgroupDriver: .cgroupfs,
        runtimeReadiness: { .init(ready: true) },
        networkReadiness: { .init(ready: false, reason: "NetworkPluginNotReady", message: "no CNI config") },
        verboseInfo: { ["runtime": #"{"name":"fasco"}"#] },
        imageFilesystemUsage: {
            FilesystemUsageReport(mountpoint: "/var/lib/fasco/images", usedBytes: 8192, inodesUsed: 3, timestampNanos: 42)
        })
}

/// The status a call failed with, or nil when it succeeded.
func statusOf(_ body: () async throws -> Void) async -> GRPCStatus? {
    do {
        try await body()
        return nil
    } catch let status as GRPCStatus {
        return status
    } catch {
        return GRPCStatus(.unknown, "not a GRPCStatus: \(error)")
    }
}
