import FascoCore

/// How far one layer may expand when it is unpacked: bounds against decompression bombs
/// (a few MiB of gzip that inflate to GiBs of zeros, or a tar of hundreds of thousands of
/// empty files). Checked while the layer streams, so a layer that exceeds a bound is refused
/// before more than the bound (plus one decompression block, 1 MiB) has been written.
///
/// fasco.toml `[image]` sets them (`deploy/fasco.toml` explains the defaults); the errors
/// name those keys, so that an operator whose real image is refused knows what to raise.
public struct LayerLimits: Sendable, Equatable {
    /// The most uncompressed bytes (the tar stream) one layer may have, whatever its
    /// compressed size. fasco.toml `image.max_layer_bytes`.
    public var maxBytes: Int64
    /// The most uncompressed bytes per compressed byte, once past `ratioFloorBytes`.
    /// fasco.toml `image.max_layer_ratio`.
    public var maxRatio: Int64
    /// Uncompressed bytes any layer may have whatever its ratio, so that small, very
    /// compressible layers (a few KiB of text, empty files) are never refused by ratio.
    /// fasco.toml `image.layer_ratio_floor_bytes`.
    public var ratioFloorBytes: Int64
    /// The most tar entries (files, directories, links, whiteouts) one layer may have.
    /// fasco.toml `image.max_layer_entries`.
    public var maxEntries: Int

    public init(maxBytes: Int64 = 64 << 30, maxRatio: Int64 = 100, ratioFloorBytes: Int64 = 256 << 20,
                maxEntries: Int = 100_000) {
        self.maxBytes = maxBytes
        self.maxRatio = maxRatio
        self.ratioFloorBytes = ratioFloorBytes
        self.maxEntries = maxEntries
    }

    /// No bounds (for callers that unpack what they made themselves).
    public static let unbounded = LayerLimits(maxBytes: .max, maxRatio: .max, ratioFloorBytes: .max, maxEntries: .max)

    public static let maxBytesKey = "image.max_layer_bytes"
    public static let maxRatioKey = "image.max_layer_ratio"
    public static let ratioFloorBytesKey = "image.layer_ratio_floor_bytes"
    public static let maxEntriesKey = "image.max_layer_entries"

    /// The most uncompressed bytes a layer of `compressedBytes` may have, and whether the
    /// ratio (rather than the absolute cap) sets it.
    func byteBound(compressedBytes: Int64) -> (bytes: Int64, byRatio: Bool) {
        let (product, overflow) = maxRatio.multipliedReportingOverflow(by: max(compressedBytes, 0))
        let byRatio = overflow ? Int64.max : max(product, ratioFloorBytes)
        return byRatio < maxBytes ? (byRatio, true) : (maxBytes, false)
    }

    /// The error for a layer whose uncompressed stream passed its byte bound.
    func bytesExceeded(layer: String, compressedBytes: Int64) -> FascoError {
        let (bound, byRatio) = byteBound(compressedBytes: compressedBytes)
        let reason = byRatio
            ? "more than \(maxRatio) times its compressed size of \(compressedBytes) bytes "
                + "(\(Self.maxRatioKey) = \(maxRatio), applied past \(Self.ratioFloorBytesKey) = \(ratioFloorBytes))"
            : "more than the absolute bound (\(Self.maxBytesKey) = \(maxBytes))"
        return .resourceExhausted("layer \(layer) expands to more than \(bound) uncompressed bytes, \(reason); "
            + "refused as a likely decompression bomb (raise the bound in fasco.toml [image] if the image is genuine)")
    }

    /// The error for a layer with more than `maxEntries` entries.
    func entriesExceeded(layer: String) -> FascoError {
        .resourceExhausted("layer \(layer) has more than \(maxEntries) entries (\(Self.maxEntriesKey) = \(maxEntries)); "
            + "refused as a likely decompression bomb (raise the bound in fasco.toml [image] if the image is genuine)")
    }
}
