import FascoCore
import FoundationEssentials
import Testing
@testable import RealmAttestation

@Suite struct InitDataKeyBrokerTests {
    static func annotation(_ toml: String) -> [String: String] {
        [RealmOptions.initDataAnnotation: Data(toml.utf8).base64EncodedString()]
    }

    @Test("the broker of CoCo's initdata: data.\"cdh.toml\" [kbc] url and kbs_cert")
    func readsCDHConfig() throws {
        let toml = #"""
        algorithm = "sha384"
        version = "0.1.0"

        [data]
        "aa.toml" = '''
        [token_configs.kbs]
        url = "http://elsewhere:8080"
        '''
        "cdh.toml" = '''
        socket = 'unix:///run/confidential-containers/cdh.sock'
        [kbc]
        name = "cc_kbc"
        url = "https://kbs.example:8080"
        kbs_cert = """
        -----BEGIN CERTIFICATE-----
        MIIB
        -----END CERTIFICATE-----
        """
        '''
        """#
        let broker = try #require(try InitDataKeyBroker.from(annotations: Self.annotation(toml)))
        #expect(broker.url == "https://kbs.example:8080")
        #expect(broker.certificatePEM?.contains("BEGIN CERTIFICATE") == true)
        #expect(broker.initDataText == toml)
        #expect(InitDataKeyBroker.initDataText(annotations: Self.annotation(toml)) == toml)
    }

    @Test("no initdata, or initdata without a cdh.toml [kbc] url, names no broker; a cdh.toml that is not TOML is refused")
    func noBroker() throws {
        #expect(try InitDataKeyBroker.from(annotations: [:]) == nil)
        #expect(try InitDataKeyBroker.from(annotations: Self.annotation("algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\n")) == nil)
        #expect(try InitDataKeyBroker.from(annotations: Self.annotation(
            "algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\n\"cdh.toml\" = \"[kbc]\\nname = \\\"cc_kbc\\\"\"\n")) == nil)
        #expect(throws: FascoError.self) {
            try InitDataKeyBroker.from(annotations: Self.annotation("algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\n\"cdh.toml\" = \"[kbc\"\n"))
        }
    }
}
