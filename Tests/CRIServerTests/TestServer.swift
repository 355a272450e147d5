import CRIAPI
import CRIServer
import FascoCore
import ImageStore
import GRPCTransport
import Logging
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A CRIService served in-process on a temporary unix socket, with a client channel to it.
final class TestServer: Sendable {
    let directory: String
    let server: GRPCServer
    let channel: GRPCChannel
    let images: ImageStore

    init(environment: RuntimeEnvironment = .testDefault,
         sources: @escaping @Sendable (ImageReference, RegistryCredentials?) -> any ImageSource = { _, _ in UnreachableSource() }) throws {
        var template = Array("/var/tmp/fasco-cri-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw GRPCStatus(.internal, "mkdtemp failed") }
        directory = String(cString: made)
        images = try ImageStore(root: directory + "/images", sources: sources)
        let service = CRIService(environment: environment, images: images, logger: Logger(label: "test"))
        server = try GRPCServer(configuration: .init(socketPath: directory + "/cri.sock"), methods: service.routes())
        channel = GRPCChannel(target: "unix://" + directory + "/cri.sock")
    }

    var runtime: RuntimeServiceClient { RuntimeServiceClient(channel: channel) }
    var imageService: ImageServiceClient { ImageServiceClient(channel: channel) }

    func stop() async {
        channel.close()
        await server.shutdown(gracePeriod: .seconds(1))
        try? FileSystem.removeTree(directory)
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


