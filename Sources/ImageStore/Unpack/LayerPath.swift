/// Path handling for layer entries, on raw bytes: a tar name is a byte string and
/// need not be valid UTF-8.
enum LayerPath {
    static let slash = UInt8(ascii: "/")
    static let dot: [UInt8] = [UInt8(ascii: ".")]
    static let dotDot: [UInt8] = [UInt8(ascii: "."), UInt8(ascii: ".")]
    static let whiteoutPrefix: [UInt8] = Array(".wh.".utf8)
    static let opaqueMarker: [UInt8] = Array(".wh..wh..opq".utf8)

    /// The components of `raw` relative to the root: a leading "/" is dropped (an
    /// absolute name is taken relative to the root), empty and "." components are
    /// dropped and ".." removes the previous component. Returns nil when a ".."
    /// would climb above the root. An empty result names the root itself.
    static func normalize(_ raw: [UInt8]) -> [[UInt8]]? {
        var components: [[UInt8]] = []
        for part in raw.split(separator: slash, omittingEmptySubsequences: true) {
            if part.elementsEqual(dot) { continue }
            if part.elementsEqual(dotDot) {
                if components.isEmpty { return nil }
                components.removeLast()
                continue
            }
            components.append(Array(part))
        }
        return components
    }

    /// Resolves a symlink `target` found in directory `base` the way RESOLVE_IN_ROOT
    /// does, lexically: an absolute target starts at the root, ".." stops at the root.
    static func resolveInRoot(base: [[UInt8]], target: [UInt8]) -> [[UInt8]] {
        var components = target.first == slash ? [] : base
        for part in target.split(separator: slash, omittingEmptySubsequences: true) {
            if part.elementsEqual(dot) { continue }
            if part.elementsEqual(dotDot) {
                if !components.isEmpty { components.removeLast() }
                continue
            }
            components.append(Array(part))
        }
        return components
    }

    /// "a/b/c" for the given components; "" for none.
    static func join(_ components: some Collection<[UInt8]>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(components.reduce(0) { $0 + $1.count + 1 })
        for component in components {
            if !bytes.isEmpty { bytes.append(slash) }
            bytes.append(contentsOf: component)
        }
        return bytes
    }

    /// `base + "/" + name`, or `name` when base is empty.
    static func child(_ base: [UInt8], _ name: [UInt8]) -> [UInt8] {
        base.isEmpty ? name : base + [slash] + name
    }

    /// Bytes for a message: invalid UTF-8 is shown with replacement characters and
    /// very long names are shortened.
    static func display(_ bytes: [UInt8]) -> String {
        if bytes.count <= 300 { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: bytes.prefix(300), as: UTF8.self) + "…"
    }
}
