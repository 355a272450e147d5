import FascoCore
import FoundationEssentials
import OCISpec
import RealmCore

extension SoftwareBackend {
    public func runtimeSpec(of container: ContainerRealm, bundle: String) async throws(FascoError) -> RuntimeSpec {
        guard let bytes = try FileSystem.read(bundle + "/config.json", limit: 4 << 20) else {
            throw .failedPrecondition("container \(container.id) has no runtime spec at \(bundle)")
        }
        do { return try JSONDecoder().decode(RuntimeSpec.self, from: Data(bytes)) } catch {
            throw .internal("cannot read the runtime spec of container \(container.id)", cause: error)
        }
    }

    /// Rewrites the bundle's config.json (0600, in the root-only bundle directory) before the
    /// runtime's create reads it.
    public func replaceRuntimeSpec(of container: ContainerRealm, bundle: String, with spec: RuntimeSpec) async throws(FascoError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(spec) } catch { throw .internal("cannot encode the runtime spec of container \(container.id)") }
        try FileSystem.writeAtomically(Array(data), to: bundle + "/config.json", mode: 0o600, durable: false)
    }
}
