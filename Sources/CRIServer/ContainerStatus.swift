import CRIAPI
import FascoCore
import GRPCTransport
import RealmCore

extension CRIService {
    public func containerStatus(_ request: ContainerStatusRequest, context: ServerContext) async throws -> ContainerStatusResponse {
        let realms = try self.realms
        guard let container = try await realms.container(request.containerID) else {
            throw FascoError.notFound("container \(request.containerID) not found")
        }
        var response = ContainerStatusResponse(status: await renderStatus(container))
        if request.verbose {
            var pid: Int32 = 0
            switch await realms.process(of: container) {
            case .running(let running): pid = running
            case .created(let created): pid = created
            default: break
            }
            let spec = try? FileSystem.read(realms.bundle(of: container) + "/config.json", limit: 4 << 20)
            let info = ContainerVerboseInfo(
                id: container.id.value, sandboxID: container.systemRealm.value, pid: pid, realm: "container",
                image: container.imageID, runtimeSpec: spec.map { String(decoding: $0, as: UTF8.self) } ?? "")
            response.info["info"] = info.rendered
        }
        return response
    }

    func renderStatus(_ container: ContainerRealm) async -> ContainerStatus {
        let config = (try? ContainerConfig.decode(container.attachment)) ?? ContainerConfig()
        let image = await images.image(container.imageID)
        return ContainerStatus(
            id: container.id.value, metadata: Self.render(container.metadata), state: Self.render(container.state),
            createdAt: container.createdAt, startedAt: container.startedAt, finishedAt: container.finishedAt,
            exitCode: container.exitCode, image: ImageSpec(image: container.image),
            imageRef: image?.repoDigests.first ?? container.imageID, reason: container.reason, message: container.message,
            labels: container.labels, annotations: container.annotations, mounts: config.mounts, logPath: container.logPath,
            resources: config.linux?.resources.map { ContainerResources(linux: $0) }, imageID: container.imageID,
            stopSignal: config.stopSignal)
    }
}

/// The verbose `info` of ContainerStatus, as crictl inspect reads it: `runtimeSpec` is the
/// OCI config the container was created from (embedded as JSON, not as a string).
struct ContainerVerboseInfo {
    var id: String
    var sandboxID: String
    var pid: Int32
    var realm: String
    var image: String
    var runtimeSpec: String

    var rendered: String {
        func quoted(_ text: String) -> String { CRIService.json(text) }
        let spec = runtimeSpec.isEmpty ? "null" : runtimeSpec
        return "{\"id\":\(quoted(id)),\"image\":\(quoted(image)),\"pid\":\(pid),\"realm\":\(quoted(realm)),"
            + "\"runtimeSpec\":\(spec),\"sandboxID\":\(quoted(sandboxID))}"
    }
}
