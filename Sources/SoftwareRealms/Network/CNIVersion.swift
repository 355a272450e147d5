/// A CNI specification version ("0.3.1", "1.0.0"): SPEC.md, "Version considerations".
///
/// Ordered numerically; a missing minor or patch number counts as 0.
struct CNIVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    var major: Int
    var minor: Int
    var patch: Int
    /// The text as the configuration wrote it, which is what plugins are given back.
    var text: String

    init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var numbers: [Int] = []
        for part in parts {
            guard !part.isEmpty, part.utf8.count <= 9, part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int(part) else {
                return nil
            }
            numbers.append(number)
        }
        while numbers.count < 3 { numbers.append(0) }
        major = numbers[0]
        minor = numbers[1]
        patch = numbers[2]
        self.text = text
    }

    static let v0_4_0 = CNIVersion(major: 0, minor: 4, patch: 0)
    static let v0_3_0 = CNIVersion(major: 0, minor: 3, patch: 0)
    static let v1_0_0 = CNIVersion(major: 1, minor: 0, patch: 0)
    /// The newest version whose results this client reads (1.1 only adds commands and fields).
    static let newestUnderstood = CNIVersion(major: 1, minor: 1, patch: 0)

    private init(major: Int, minor: Int, patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
        text = "\(major).\(minor).\(patch)"
    }

    /// CHECK and prevResult on DEL exist from 0.4.0 on.
    var supportsCheck: Bool { self >= .v0_4_0 }
    /// Results before 0.3.0 have `ip4`/`ip6` objects instead of an `ips` list.
    var hasLegacyResult: Bool { self < .v0_3_0 }

    var description: String { text }

    static func < (lhs: CNIVersion, rhs: CNIVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    static func == (lhs: CNIVersion, rhs: CNIVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) == (rhs.major, rhs.minor, rhs.patch)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
    }
}
