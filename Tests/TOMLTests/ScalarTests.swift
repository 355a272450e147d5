import Testing
import TOML

@Suite("Integers, floats, booleans, date-times")
struct ScalarTests {
    @Test(arguments: [
        ("+99", 99), ("42", 42), ("0", 0), ("-17", -17), ("+0", 0), ("-0", 0),
        ("1_000", 1000), ("5_349_221", 5_349_221), ("53_49_221", 5_349_221), ("1_2_3_4_5", 12345),
        ("0xDEADBEEF", 0xDEAD_BEEF), ("0xdeadbeef", 0xDEAD_BEEF), ("0xdead_beef", 0xDEAD_BEEF),
        ("0x00ff", 255), ("0o01234567", 0o01234567), ("0o755", 0o755), ("0b11010110", 0b1101_0110),
        ("0b0000_0001", 1), ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
        ("0x7FFFFFFFFFFFFFFF", Int64.max), ("0o777777777777777777777", Int64.max),
    ] as [(String, Int64)])
    func integers(source: String, expected: Int64) throws {
        #expect(try value("v = \(source)") == .integer(expected))
    }

    @Test(arguments: [
        ("+1.0", 1.0), ("3.1415", 3.1415), ("-0.01", -0.01), ("5e+22", 5e22), ("1e06", 1e6),
        ("-2E-2", -0.02), ("6.626e-34", 6.626e-34), ("224_617.445_991_228", 224_617.445_991_228),
        ("0.0", 0.0), ("+0.0", 0.0), ("1e1_0", 1e10), ("9_224_617.445_991_228_313", 9_224_617.445_991_228_313),
        ("0e0", 0.0), ("1.5E3", 1500.0),
    ] as [(String, Double)])
    func floats(source: String, expected: Double) throws {
        #expect(try value("v = \(source)") == .float(expected))
    }

    @Test func signedZeroAndSpecialFloats() throws {
        let doc = """
            negzero = -0.0
            a = inf
            b = +inf
            c = -inf
            d = nan
            e = +nan
            f = -nan
            """
        let t = try TOML.parse(doc)
        guard case .float(let negzero)? = t["negzero"] else {
            Issue.record("negzero is not a float")
            return
        }
        #expect(negzero == 0 && negzero.sign == .minus)
        #expect(t["a"] == .float(.infinity))
        #expect(t["b"] == .float(.infinity))
        #expect(t["c"] == .float(-.infinity))
        for key in ["d", "e", "f"] {
            guard case .float(let d)? = t[key] else {
                Issue.record("\(key) is not a float")
                continue
            }
            #expect(d.isNaN)
        }
    }

    @Test func booleans() throws {
        let t = try TOML.parse("yes = true\nno = false")
        #expect(t["yes"] == .boolean(true))
        #expect(t["no"] == .boolean(false))
    }

    @Test(arguments: [
        "1979-05-27T07:32:00Z",
        "1979-05-27T00:32:00-07:00",
        "1979-05-27T00:32:00.999999-07:00",
        "1979-05-27 07:32:00Z",
        "1979-05-27t07:32:00z",
        "1979-05-27T07:32:00+14:00",
        "1979-05-27T07:32:00",
        "1979-05-27T00:32:00.999999",
        "1979-05-27 07:32:00",
        "1979-05-27",
        "07:32:00",
        "00:32:00.999999",
        "2000-02-29",
        "2024-02-29T12:00:00Z",
        "1990-12-31T23:59:60Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.123456789+23:59",
    ])
    func datetimesKeepSourceText(source: String) throws {
        #expect(try value("v = \(source)") == .datetime(source))
        #expect(try value("v = \(source) # comment") == .datetime(source))
        #expect(try value("v = [\(source),\(source)]") == .array([.datetime(source), .datetime(source)]))
    }

    @Test func localDateFollowedBySpaceIsNotADateTime() throws {
        #expect(try value("v = 1979-05-27   # just a date") == .datetime("1979-05-27"))
        #expect(try value("v = { d = 1979-05-27 }") == .table(try TOML.parse("d = 1979-05-27")))
    }
}
