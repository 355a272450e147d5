@testable import FascoDaemon
import Testing

@Suite("fasco.toml [kbs]") struct KBSConfigTests {
    @Test("url and ca_file are read; none by default; a bad URL or relative CA file is refused")
    func kbsTable() throws {
        #expect(FascoConfig().kbs.url.isEmpty && FascoConfig().kbs.caFile == nil)
        var config = FascoConfig()
        try config.apply(toml: "[kbs]\nurl = \"https://kbs.example:8080\"\nca_file = \"/etc/fasco/kbs-ca.pem\"", source: "k.toml")
        #expect(config.kbs.url == "https://kbs.example:8080" && config.kbs.caFile == "/etc/fasco/kbs-ca.pem")
        try config.validate()
        for text in ["[kbs]\nurl = \"kbs.example\"", "[kbs]\nurl = \"http://k\"\nca_file = \"ca.pem\""] {
            var bad = FascoConfig()
            try bad.apply(toml: text, source: "k.toml")
            #expect(throws: ConfigError.self) { try bad.validate() }
        }
        var unknown = FascoConfig()
        #expect(throws: ConfigError.self) { try unknown.apply(toml: "[kbs]\nurl = \"http://k\"\ntoken = \"x\"", source: "k.toml") }
    }
}
