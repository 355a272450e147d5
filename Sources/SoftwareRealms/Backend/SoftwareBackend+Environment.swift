import FascoCore
import FoundationEssentials
import OCISpec
import RealmCore

extension SoftwareBackend {
    public func processEnvironment(_ container: ContainerRealm, bundle: String) async throws(FascoError) -> [String] {
        try execProcess(container, bundle: bundle).env ?? []
    }

    /// Rewrites the bundle's config.json (0600, in the root-only bundle directory) with the
    /// process's new environment, before the runtime's create reads it.
    public func replaceProcessEnvironment(_ container: ContainerRealm, bundle: String, with environment: [String]) async throws(FascoError) {
        let path = bundle + "/config.json"
        guard let bytes = try FileSystem.read(path, limit: 4 << 20) else {
            throw .failedPrecondition("container \(container.id) has no runtime spec at \(bundle)")
        }
        var spec: RuntimeSpec
        do { spec = try JSONDecoder().decode(RuntimeSpec.self, from: Data(bytes)) } catch {
            throw .internal("cannot read the runtime spec of container \(container.id)", cause: error)
        }
        guard spec.process != nil else { throw .failedPrecondition("container \(container.id) has no process") }
        spec.process?.env = environment
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(spec) } catch { throw .internal("cannot encode the runtime spec") }
        try FileSystem.writeAtomically(Array(data), to: path, mode: 0o600, durable: false)
    }
}
