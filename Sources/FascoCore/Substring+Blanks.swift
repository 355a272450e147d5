extension Substring {
    /// Without the spaces and tabs at either end (as /proc files and passwd(5) lines pad fields).
    public var trimmingBlanks: Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
