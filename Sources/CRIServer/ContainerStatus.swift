import CRIAPI
import FascoCore
import FoundationEssentials
import GRPCTransport
import OCISpec
import RealmCore

extension CRIService {
    public func containerStatus(_ request: ContainerStatusRequest, context: ServerContext) async throws -> ContainerStatusResponse {
        let realms = try self.realms
        guard let container = try await realms.container(request.containerID) else {
            throw FascoError.notFound("container \(request.containerID) not found")
        }
        var response = ContainerStatusResponse(status: await renderStatus(container))
        if request.verbose {
            let pid = container.state.isLive ? (await realms.pid(of: container) ?? 0) : 0
            let spec = try? FileSystem.read(realms.bundle(of: container) + "/config.json", limit: 4 << 20)
            let info = ContainerVerboseInfo(
                id: container.id.value, sandboxID: container.systemRealm.value, pid: pid, realm: "container",
                image: container.imageID, runtimeSpec: spec.map { String(decoding: $0, as: UTF8.self) } ?? "")
            response.info["info"] = info.rendered
            response.info["attestation"] = Self.json(AttestationSummary(container.attestation, monitor: realms.monitor))
        }
        return response
    }

    func renderStatus(_ container: ContainerRealm) async -> ContainerStatus {
        let config = (try? ContainerConfig.decode(container.requestConfig)) ?? ContainerConfig()
        let image = await images.image(container.imageID)
        return ContainerStatus(
            id: container.id.value, metadata: Self.render(container.metadata), state: Self.render(container.state),
            createdAt: container.createdAt, startedAt: container.startedAt, finishedAt: container.finishedAt,
            exitCode: container.exitCode, image: ImageSpec(image: container.image),
            imageRef: image?.repoDigests.first ?? container.imageID, reason: container.reason, message: container.message,
            labels: container.labels, annotations: container.annotations, mounts: config.mounts, logPath: container.logPath,
            resources: config.linux?.resources.map { ContainerResources(linux: $0) }, imageID: container.imageID,
            user: processUser(of: container), stopSignal: config.stopSignal)
    }

    /// The identity the container's process runs with, from its runtime spec (only
    /// `process.user` is decoded: the rest of the spec, seccomp rules included, is skipped).
    func processUser(of container: ContainerRealm) -> ContainerUser? {
        struct SpecUser: Decodable {
            struct Process: Decodable { var user: RuntimeSpec.Process.User }
            var process: Process?
        }
        guard let bundle = realmManager?.bundle(of: container),
              let bytes = try? FileSystem.read(bundle + "/config.json", limit: 4 << 20),
              let user = (try? JSONDecoder().decode(SpecUser.self, from: Data(bytes)))?.process?.user else { return nil }
        return ContainerUser(linux: LinuxContainerUser(
            uid: Int64(user.uid), gid: Int64(user.gid), supplementalGroups: (user.additionalGids ?? []).map(Int64.init)))
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
