import TOMLKit

/// Reads one TOML table with typed accessors, remembering which keys were read so that any
/// other key can be reported as unknown (a typo must not silently fall back to a default).
struct TOMLSection {
    let file: String
    let path: String
    let table: TOMLTable?
    private var seen: Set<String> = []

    init(file: String, path: String, table: TOMLTable?) {
        self.file = file
        self.path = path
        self.table = table
    }

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func error(_ name: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, key: key(name), message: message)
    }

    private mutating func value(_ name: String) -> TOMLValueConvertible? {
        seen.insert(name)
        return table?[name]
    }

    mutating func string(_ name: String, default d: String, allowEmpty: Bool = false) throws(ConfigurationError) -> String {
        try string(name, allowEmpty: allowEmpty) ?? d
    }

    /// The string under `name`, or nil when the key is absent.
    mutating func string(_ name: String, allowEmpty: Bool = false) throws(ConfigurationError) -> String? {
        guard let v = value(name) else { return nil }
        guard let s = v.string else { throw error(name, "expected a string, found \(v.type)") }
        if !allowEmpty && s.isEmpty { throw error(name, "expected a non-empty string") }
        return s
    }

    mutating func int(_ name: String, default d: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let v = value(name) else { return d }
        guard let i = v.int else { throw error(name, "expected an integer, found \(v.type)") }
        guard range.contains(i) else { throw error(name, "expected an integer in \(range.lowerBound)...\(range.upperBound), found \(i)") }
        return i
    }

    mutating func double(_ name: String, default d: Double, range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        try double(name, range: range) ?? d
    }

    /// The number under `name`, or nil when the key is absent.
    mutating func double(_ name: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
        guard let v = value(name) else { return nil }
        let x: Double
        if let f = v.double {
            x = f
        } else if let i = v.int {
            x = Double(i)
        } else {
            throw error(name, "expected a number, found \(v.type)")
        }
        guard x.isFinite, range.contains(x) else { throw error(name, "expected a number in \(range.lowerBound)...\(range.upperBound), found \(x)") }
        return x
    }

    mutating func bool(_ name: String, default d: Bool) throws(ConfigurationError) -> Bool {
        guard let v = value(name) else { return d }
        guard let b = v.bool else { throw error(name, "expected true or false, found \(v.type)") }
        return b
    }

    mutating func strings(_ name: String, default d: [String], allowEmpty: Bool = true) throws(ConfigurationError) -> [String] {
        guard let v = value(name) else { return d }
        guard let a = v.array else { throw error(name, "expected an array of strings, found \(v.type)") }
        var out: [String] = []
        for (i, e) in a.enumerated() {
            guard let s = e.string, !s.isEmpty else { throw error(name, "element \(i): expected a non-empty string") }
            out.append(s)
        }
        if !allowEmpty && out.isEmpty { throw error(name, "expected at least one element") }
        if Set(out).count != out.count { throw error(name, "duplicate elements") }
        return out
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ name: String, default d: E) throws(ConfigurationError) -> E
    where E.RawValue == String {
        let s = try string(name, default: d.rawValue)
        guard let e = E(rawValue: s) else {
            throw error(name, "expected one of \(E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), found \"\(s)\"")
        }
        return e
    }

    /// A nested table; its keys are checked when its section is finished.
    mutating func subsection(_ name: String) throws(ConfigurationError) -> TOMLSection {
        guard let v = value(name) else { return TOMLSection(file: file, path: key(name), table: nil) }
        guard let t = v.table else { throw error(name, "expected a table, found \(v.type)") }
        return TOMLSection(file: file, path: key(name), table: t)
    }

    /// All key/value pairs of the table as strings (for pass-through properties).
    mutating func passThrough() throws(ConfigurationError) -> [String: String] {
        guard let table else { return [:] }
        var out: [String: String] = [:]
        for k in table.keys {
            seen.insert(k)
            let v = table[k]!
            if let s = v.string {
                out[k] = s
            } else if let i = v.int {
                out[k] = String(i)
            } else if let b = v.bool {
                out[k] = String(b)
            } else if let d = v.double {
                out[k] = String(d)
            } else {
                throw error(k, "expected a string, integer, boolean or number, found \(v.type)")
            }
        }
        return out
    }

    /// Fails on the first key that was never read.
    func finish() throws(ConfigurationError) {
        guard let table else { return }
        for k in table.keys.sorted() where !seen.contains(k) {
            throw error(k, "unknown key")
        }
    }
}
