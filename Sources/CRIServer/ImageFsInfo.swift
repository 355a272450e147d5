import CRIAPI
import GRPCTransport

extension CRIService {
    public func imageFsInfo(_ request: ImageFsInfoRequest, context: ServerContext) async throws -> ImageFsInfoResponse {
        let report = try await environment.imageFilesystemUsage()
        let usage = FilesystemUsage(
            timestamp: report.timestampNanos,
            fsID: FilesystemIdentifier(mountpoint: report.mountpoint),
            usedBytes: UInt64Value(value: report.usedBytes),
            inodesUsed: UInt64Value(value: report.inodesUsed))
        // Images and container layers share one filesystem under the root directory.
        return ImageFsInfoResponse(imageFilesystems: [usage], containerFilesystems: [usage])
    }
}
