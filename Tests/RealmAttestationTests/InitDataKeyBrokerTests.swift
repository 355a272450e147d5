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

    static func cdh(_ body: String) -> [String: String] {
        annotation("algorithm = \"sha384\"\nversion = \"0.1.0\"\n[data]\n\"cdh.toml\" = '''\n\(body)\n'''\n")
    }

    @Test("cdh.toml [[credentials]]: path to resource, paths only below CoCo's directory")
    func credentials() throws {
        let path = InitDataCredentials.awsCredentialPath
        #expect(path == "/run/confidential-containers/cdh/kbs/kms-credential/aws/credential.json")
        let two = Self.cdh("""
            [[credentials]]
            path = "\(path)"
            resource_uri = "kbs:///default/aws/credential"
            [[credentials]]
            path = "/run/confidential-containers/cdh/kbs/other"
            resource_uri = "kbs:///default/other/1"
            """)
        #expect(try InitDataCredentials.from(annotations: two) == [
            path: "kbs:///default/aws/credential", "/run/confidential-containers/cdh/kbs/other": "kbs:///default/other/1",
        ])
        #expect(try InitDataCredentials.from(annotations: [:]).isEmpty)
        #expect(try InitDataCredentials.from(annotations: Self.cdh("[kbc]\nurl = \"http://x\"")).isEmpty)
        let refused = [
            "[[credentials]]\npath = \"/etc/shadow\"\nresource_uri = \"kbs:///a/b/c\"",
            "[[credentials]]\npath = \"/run/confidential-containers/cdh/kbs/../../etc\"\nresource_uri = \"kbs:///a/b/c\"",
            "[[credentials]]\npath = \"/run/confidential-containers/cdh/kbs/./x\"\nresource_uri = \"kbs:///a/b/c\"",
            "[[credentials]]\npath = \"/run/confidential-containers/cdh/kbsx/y\"\nresource_uri = \"kbs:///a/b/c\"",
            "[[credentials]]\npath = \"\(path)\"\nresource_uri = \"https://elsewhere/x\"",
            "[[credentials]]\npath = \"\(path)\"",
            "credentials = \"not tables\"",
        ]
        for body in refused {
            #expect(throws: FascoError.self, "\(body)") { try InitDataCredentials.from(annotations: Self.cdh(body)) }
        }
    }
}
