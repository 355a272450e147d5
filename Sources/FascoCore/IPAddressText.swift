#if canImport(Glibc)
import Glibc
#endif

/// Checks on IP addresses written as text (inet_pton(3)), as CNI results and DNS configs carry them.
public enum IPAddressText {
    public enum Family: Sendable, Equatable {
        case ipv4
        case ipv6
    }

    /// The family of a plain address ("10.88.0.2", "fd00::2"), nil when it is not one.
    public static func family(of address: String) -> Family? {
        guard !address.utf8.contains(0) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, address, &buffer) == 1 { return .ipv4 }
        if inet_pton(AF_INET6, address, &buffer) == 1 { return .ipv6 }
        return nil
    }

    /// Splits "10.88.0.2/16" into the address and its prefix length; nil unless both are valid.
    public static func parseCIDR(_ text: String) -> (address: String, prefixLength: Int, family: Family)? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let family = family(of: String(parts[0])),
              parts[1].utf8.count <= 3, parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let length = Int(parts[1])
        else { return nil }
        guard length <= (family == .ipv4 ? 32 : 128) else { return nil }
        return (String(parts[0]), length, family)
    }
}
