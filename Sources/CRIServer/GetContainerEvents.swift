import CRIAPI
import GRPCTransport
import RealmCore

extension CRIService {
    /// Streams container and pod lifecycle events (created, started, stopped, deleted) from
    /// the moment of the call until the client goes away. A pod's events carry the pod's ID.
    public func getContainerEvents(_ request: GetEventsRequest, context: ServerContext, responses: ResponseStream<ContainerEventResponse>) async throws {
        let realms = try self.realms
        for await event in realms.events.subscribe() {
            try Task.checkCancellation()
            try await responses.send(await render(event, realms: realms))
        }
    }

    func render(_ event: RealmEvent, realms: RealmManager) async -> ContainerEventResponse {
        let kind: ContainerEventType = switch event.kind {
        case .created: .createdEvent
        case .started: .startedEvent
        case .stopped: .stoppedEvent
        case .deleted: .deletedEvent
        }
        var response = ContainerEventResponse(containerID: event.realm.value, containerEventType: kind, createdAt: event.time)
        if let pod = try? await realms.systemRealm(event.systemRealm.value) {
            response.podSandboxStatus = Self.render(pod, running: await realms.running(pod))
            for container in await realms.containers(of: pod.id) {
                response.containersStatuses.append(await renderStatus(container))
            }
        }
        return response
    }
}
