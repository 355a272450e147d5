import FoundationEssentials

/// RFC 4648 base64 through Foundation's codec, for every layer: the URL-safe alphabet without
/// padding (JOSE's base64url, JWKs, the guest API's `runtime_data`) and the standard one.
public enum Base64URL {
    /// base64url without padding.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        String(Data(bytes).base64EncodedString().compactMap { character -> Character? in
            switch character {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: character
            }
        })
    }

    /// base64url with or without padding; nil for anything else.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        guard !text.contains("+"), !text.contains("/") else { return nil }
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        let remainder = standard.utf8.count % 4
        if remainder == 1 { return nil }
        if remainder > 0 { standard += String(repeating: "=", count: 4 - remainder) }
        return Data(base64Encoded: standard).map(Array.init)
    }

    /// base64url exactly as `encode` writes it: no padding and no non-zero bits after the last
    /// byte (Foundation's decoder ignores them; Rust's URL_SAFE_NO_PAD decoder refuses them, as
    /// this does); nil for anything else.
    public static func decodeCanonical(_ text: some StringProtocol) -> [UInt8]? {
        guard let bytes = decode(text), encode(bytes) == text else { return nil }
        return bytes
    }

    /// Standard base64 with padding.
    public static func encodeStandard(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
    }
}
