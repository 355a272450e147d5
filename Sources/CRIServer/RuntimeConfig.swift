import CRIAPI
import GRPCTransport

extension CRIService {
    public func runtimeConfig(_ request: RuntimeConfigRequest, context: ServerContext) async throws -> RuntimeConfigResponse {
        let driver: CgroupDriver = switch environment.cgroupDriver {
        case .systemd: .systemd
        case .cgroupfs: .cgroupfs
        }
        return RuntimeConfigResponse(linux: LinuxRuntimeConfiguration(cgroupDriver: driver))
    }
}
