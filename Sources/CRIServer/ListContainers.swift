import CRIAPI
import GRPCTransport
import RealmCore

extension CRIService {
    public func listContainers(_ request: ListContainersRequest, context: ServerContext) async throws -> ListContainersResponse {
        let selected = try await selectContainers(id: request.filter?.id ?? "", podSandboxID: request.filter?.podSandboxID ?? "",
                                                  labels: request.filter?.labelSelector ?? [:])
        let state = request.filter?.state?.state
        return ListContainersResponse(containers: selected.compactMap { container in
            let rendered = Self.render(container.state)
            if let state, state != rendered { return nil }
            return Container(
                id: container.id.value, podSandboxID: container.systemRealm.value, metadata: Self.render(container.metadata),
                image: ImageSpec(image: container.image), imageRef: container.imageID, state: rendered, createdAt: container.createdAt,
                labels: container.labels, annotations: container.annotations, imageID: container.imageID)
        })
    }

    /// Containers matching an ID (or unique prefix), a pod (ID or prefix) and a label selector; empty means any.
    func selectContainers(id: String, podSandboxID: String, labels: [String: String]) async throws -> [ContainerRealm] {
        let realms = try self.realms
        var selected = await realms.containerRealms
        if !id.isEmpty {
            guard let match = try? await realms.container(id) else { return [] }
            selected = selected.filter { $0.id == match.id }
        }
        if !podSandboxID.isEmpty {
            guard let pod = try? await realms.systemRealm(podSandboxID) else { return [] }
            selected = selected.filter { $0.systemRealm == pod.id }
        }
        return selected.filter { Self.matches($0.labels, labels) }
    }

    static func render(_ state: ContainerRealm.State) -> ContainerState {
        switch state {
        case .created: .created
        case .running: .running
        case .exited, .removed: .exited
        case .unknown: .unknown
        }
    }

    static func render(_ metadata: ContainerRealmMetadata) -> ContainerMetadata {
        ContainerMetadata(name: metadata.name, attempt: metadata.attempt)
    }
}
