import FascoCore
import OCISpec

extension Platform {
    /// The platform this process runs on (Fasco runs Linux containers).
    public static var host: Platform {
        #if arch(x86_64)
        Platform(architecture: "amd64", os: "linux")
        #elseif arch(arm64)
        Platform(architecture: "arm64", os: "linux", variant: "v8")
        #else
        Platform(architecture: "unknown", os: "linux")
        #endif
    }
}

/// Chooses the manifest of an index for a platform (image-index.md "platform").
public enum PlatformMatcher {
    public static func select(from index: Index, for wanted: Platform) throws(FascoError) -> Descriptor {
        let candidates = index.manifests.filter { descriptor in
            guard let platform = descriptor.platform else { return false }
            return platform.os == wanted.os && platform.architecture == wanted.architecture
                && variantMatches(platform, wanted)
        }
        // An exact variant beats a missing one.
        if let exact = candidates.first(where: { $0.platform?.variant == wanted.variant }) { return exact }
        if let first = candidates.first { return first }
        let available = index.manifests.compactMap { $0.platform }.map { platform in
            [platform.os, platform.architecture, platform.variant].compactMap { $0 }.joined(separator: "/")
        }
        let wantedText = [wanted.os, wanted.architecture, wanted.variant].compactMap { $0 }.joined(separator: "/")
        throw .notFound("no manifest for \(wantedText) in the image index (it has: \(available.isEmpty ? "none" : available.joined(separator: ", ")))")
    }

    static func variantMatches(_ platform: Platform, _ wanted: Platform) -> Bool {
        let normalized = { (p: Platform) -> String? in
            p.architecture == "arm64" && (p.variant == nil || p.variant == "") ? "v8" : p.variant
        }
        guard let wantedVariant = normalized(wanted), !wantedVariant.isEmpty else { return true }
        guard let variant = normalized(platform), !variant.isEmpty else { return true }
        return variant == wantedVariant
    }
}
