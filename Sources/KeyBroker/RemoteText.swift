/// Text a remote service wrote (a problem type, an error message), made fit for an error
/// message and a log line: at most `limit` characters, each control character (a newline, a
/// NUL, an escape) a space, so a hostile answer cannot forge lines of its own.
enum RemoteText {
    static func line(_ text: some StringProtocol, limit: Int) -> String {
        String(text.prefix(limit).map { character in
            character.unicodeScalars.contains { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" }
                ? " " : character
        })
    }
}
