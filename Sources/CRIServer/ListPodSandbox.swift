import CRIAPI
import GRPCTransport
import RealmCore

extension CRIService {
    public func listPodSandbox(_ request: ListPodSandboxRequest, context: ServerContext) async throws -> ListPodSandboxResponse {
        let realms = try self.realms
        var selected = await realms.registry.allSystemRealms
        if let filter = request.filter {
            if !filter.id.isEmpty {
                // A full ID or a unique prefix; one that matches nothing lists nothing.
                guard let match = try? await realms.systemRealm(filter.id) else { return ListPodSandboxResponse() }
                selected = selected.filter { $0.id == match.id }
            }
            if let state = filter.state {
                selected = selected.filter { ($0.state == .ready ? PodSandboxState.ready : .notready) == state.state }
            }
            selected = selected.filter { Self.matches($0.labels, filter.labelSelector) }
        }
        return ListPodSandboxResponse(items: selected.map { realm in
            PodSandbox(id: realm.id.value, metadata: Self.render(realm.metadata), state: realm.state == .ready ? .ready : .notready,
                       createdAt: realm.createdAt, labels: realm.labels, annotations: realm.annotations, runtimeHandler: realm.runtimeHandler)
        })
    }

    /// Whether `labels` has every key of `selector` with the same value.
    static func matches(_ labels: [String: String], _ selector: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }
}
