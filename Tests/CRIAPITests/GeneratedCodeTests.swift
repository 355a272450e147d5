import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("generated code")
struct GeneratedCodeTests {
    /// The repository root, found from this file's path.
    static var repositoryRoot: String {
        var path = #filePath
        for _ in 0..<3 {
            guard let slash = path.lastIndex(of: "/") else { break }
            path = String(path[..<slash])
        }
        return path
    }

    @Test("the committed generated code matches proto/api.proto")
    func regenerationMatches() throws {
        let script = Self.repositoryRoot + "/proto/generate.sh"
        try #require(access(script, X_OK) == 0, "missing \(script)")
        let status = system("'\(script)' --check")
        #expect(status == 0, "proto/generate.sh --check failed: regenerate and commit")
    }
}
