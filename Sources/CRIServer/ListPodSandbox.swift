import CRIAPI
import GRPCTransport
import RealmCore

extension CRIService {
    public func listPodSandbox(_ request: ListPodSandboxRequest, context: ServerContext) async throws -> ListPodSandboxResponse {
        var selected = try await selectPods(id: request.filter?.id ?? "", labels: request.filter?.labelSelector ?? [:])
        if let state = request.filter?.state {
            selected = selected.filter { Self.render($0.state) == state.state }
        }
        return ListPodSandboxResponse(items: selected.map { realm in
            PodSandbox(id: realm.id.value, metadata: Self.render(realm.metadata), state: Self.render(realm.state),
                       createdAt: realm.createdAt, labels: realm.labels, annotations: realm.annotations, runtimeHandler: realm.runtimeHandler)
        })
    }

    /// Pods matching an ID (or unique prefix) and a label selector; empty means any.
    func selectPods(id: String, labels: [String: String]) async throws -> [SystemRealm] {
        let realms = try self.realms
        var selected = await realms.systemRealms
        if !id.isEmpty {
            // A full ID or a unique prefix; one that matches nothing selects nothing.
            guard let match = try? await realms.systemRealm(id) else { return [] }
            selected = selected.filter { $0.id == match.id }
        }
        return selected.filter { Self.matches($0.labels, labels) }
    }

    static func render(_ state: SystemRealm.State) -> PodSandboxState {
        state == .ready ? .ready : .notready
    }

    /// Whether `labels` has every key of `selector` with the same value.
    static func matches(_ labels: [String: String], _ selector: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }
}
