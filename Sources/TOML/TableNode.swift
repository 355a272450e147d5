/// Mutable table tree used while parsing. Tracks how each table came into
/// existence so that the redefinition rules of TOML 1.0 can be enforced;
/// converted into immutable ``TOMLTable`` values once parsing succeeds.
final class TableNode {
    enum Origin {
        /// The document's root table.
        case root
        /// Created as an intermediate table of a `[a.b.c]` header; may still be
        /// defined later by its own `[a.b]` header.
        case implicit
        /// Defined by a `[header]` or as an element of an `[[array of tables]]`.
        case header
        /// Created by a dotted key such as `a.b = 1`.
        case dotted
        /// The body of an inline table being parsed.
        case inline
    }

    enum Child {
        /// A value assigned with `=`. Arrays and inline tables stored here are
        /// static: they cannot be extended later.
        case value(TOMLValue)
        case table(TableNode)
        case tableArray(TableArrayNode)
    }

    struct Slot {
        var key: String
        var child: Child
        var line: Int
    }

    var origin: Origin
    /// Key path from the document root (relative to the enclosing inline table
    /// for tables inside inline tables); used in error messages.
    let path: [String]
    private(set) var slots: [Slot] = []
    private var index: [String: Int] = [:]

    init(origin: Origin, path: [String]) {
        self.origin = origin
        self.path = path
    }

    func find(_ key: String) -> Slot? {
        guard let i = index[key], slots.indices.contains(i) else { return nil }
        return slots[i]
    }

    func add(_ key: String, _ child: Child, line: Int) {
        guard index[key] == nil else { return }
        index[key] = slots.count
        slots.append(Slot(key: key, child: child, line: line))
    }

    func setLine(_ key: String, _ line: Int) {
        guard let i = index[key], slots.indices.contains(i) else { return }
        slots[i].line = line
    }

    func build() -> TOMLTable {
        var table = TOMLTable()
        for slot in slots {
            let value: TOMLValue
            switch slot.child {
            case .value(let v):
                value = v
            case .table(let node):
                value = .table(node.build())
            case .tableArray(let array):
                value = .array(array.elements.map { .table($0.build()) })
            }
            table.append(key: slot.key, value: value, line: slot.line)
        }
        return table
    }
}

/// An array of tables created by `[[header]]`s; always has at least one element.
final class TableArrayNode {
    var elements: [TableNode]

    init(first: TableNode) {
        elements = [first]
    }
}
