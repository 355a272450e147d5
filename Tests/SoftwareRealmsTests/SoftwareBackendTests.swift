import SoftwareRealms
import Testing

@Suite("software backend")
struct SoftwareBackendTests {
    @Test("the backend is named as fasco.toml spells it")
    func name() {
        #expect(SoftwareBackend.name == "software")
    }
}
