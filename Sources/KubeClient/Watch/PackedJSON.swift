/// A JSON tree packed into bytes, for a cache of thousands of objects: one allocation per object, no
/// punctuation, lengths instead of quotes and escapes, and object keys and short strings replaced by their
/// index in a table the cache shares (keys come from the API's schema, and a namespace, a finalizer or a type
/// repeats in every object). Unpacking builds the tree without parsing text, and interned strings are shared,
/// not allocated again.
struct PackedJSON {
    /// Strings seen once are kept for the whole cache; bounded so that unique values (names, uids) cannot grow
    /// it without limit. Past the bound strings are stored inline.
    struct Table: Sendable {
        static let maximumEntries = 2048
        /// Longer strings are rarely repeated: not worth an entry.
        static let maximumInternedLength = 64
        private(set) var strings: [String] = []
        private var indices: [String: Int] = [:]

        init() {}

        mutating func index(of string: String) -> Int? {
            if let index = indices[string] { return index }
            guard strings.count < Self.maximumEntries, string.utf8.count <= Self.maximumInternedLength else {
                return nil
            }
            indices[string] = strings.count
            strings.append(string)
            return strings.count - 1
        }
    }

    enum Tag: UInt8 {
        case null, `false`, `true`, int, double, string, array, object
        /// Strings in forms every object repeats, stored as what they encode and written back byte for byte:
        /// a lowercase UUID (uid) in 16 bytes, an RFC 3339 UTC second (timestamps) and a decimal without leading
        /// zeros (resourceVersion) as varints.
        case uuid, timestamp, decimal
    }

    static func pack(_ value: JSONValue, into table: inout Table) -> [UInt8] {
        var bytes: [UInt8] = []
        write(value, to: &bytes, table: &table)
        // A copy of exactly the written size: the buffer grew by doubling.
        return bytes.withUnsafeBufferPointer { Array($0) }
    }

    /// Nil when `bytes` were not made by `pack` with this table.
    static func unpack(_ bytes: [UInt8], table: Table) -> JSONValue? {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = Reader(bytes: buffer, table: table)
            guard let value = reader.value(depth: 0), reader.offset == buffer.count else { return nil }
            return value
        }
    }

    private static func write(_ value: JSONValue, to bytes: inout [UInt8], table: inout Table) {
        switch value {
        case .null: bytes.append(Tag.null.rawValue)
        case .bool(let flag): bytes.append(flag ? Tag.true.rawValue : Tag.false.rawValue)
        case .int(let number):
            bytes.append(Tag.int.rawValue)
            // Zigzag: small negative numbers stay short.
            writeVarint(UInt64(bitPattern: (number << 1) ^ (number >> 63)), to: &bytes)
        case .double(let number):
            bytes.append(Tag.double.rawValue)
            withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        case .string(let string):
            if let compact = CompactString(string) {
                compact.write(to: &bytes)
            } else {
                bytes.append(Tag.string.rawValue)
                writeString(string, to: &bytes, table: &table)
            }
        case .array(let items):
            bytes.append(Tag.array.rawValue)
            writeVarint(UInt64(items.count), to: &bytes)
            for item in items { write(item, to: &bytes, table: &table) }
        case .object(let members):
            bytes.append(Tag.object.rawValue)
            writeVarint(UInt64(members.count), to: &bytes)
            for (key, member) in members {
                writeString(key, to: &bytes, table: &table)
                write(member, to: &bytes, table: &table)
            }
        }
    }

    /// An interned string is `index << 1`; an inline one `length << 1 | 1` and its UTF-8.
    private static func writeString(_ string: String, to bytes: inout [UInt8], table: inout Table) {
        if let index = table.index(of: string) {
            writeVarint(UInt64(index) << 1, to: &bytes)
        } else {
            writeVarint(UInt64(string.utf8.count) << 1 | 1, to: &bytes)
            bytes.append(contentsOf: string.utf8)
        }
    }

    static func writeVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        let table: Table
        var offset = 0

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < JSONParser.maximumDepth, offset < bytes.count, let tag = Tag(rawValue: bytes[offset]) else {
                return nil
            }
            offset += 1
            switch tag {
            case .null: return .null
            case .false: return .bool(false)
            case .true: return .bool(true)
            case .int:
                guard let zigzag = varint() else { return nil }
                return .int(Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1))
            case .double:
                guard offset + 8 <= bytes.count else { return nil }
                var pattern: UInt64 = 0
                for index in 0..<8 { pattern |= UInt64(bytes[offset + index]) << (8 * index) }
                offset += 8
                return .double(Double(bitPattern: pattern))
            case .string:
                return string().map { .string($0) }
            case .uuid:
                guard offset + 16 <= bytes.count else { return nil }
                defer { offset += 16 }
                return .string(CompactString.uuidText(bytes[offset..<offset + 16]))
            case .timestamp:
                return varint().map { .string(CompactString.timestampText(seconds: $0)) }
            case .decimal:
                return varint().map { .string(String($0)) }
            case .array:
                guard let count = varint(), count <= bytes.count - offset else { return nil }
                var items: [JSONValue] = []
                items.reserveCapacity(Int(count))
                for _ in 0..<count {
                    guard let item = value(depth: depth + 1) else { return nil }
                    items.append(item)
                }
                return .array(items)
            case .object:
                guard let count = varint(), count <= bytes.count - offset else { return nil }
                var members: JSONObject = [:]
                members.reserveCapacity(Int(count))
                for _ in 0..<count {
                    guard let key = string(), let member = value(depth: depth + 1) else { return nil }
                    members[key] = member
                }
                return .object(members)
            }
        }

        mutating func string() -> String? {
            guard let header = varint() else { return nil }
            if header & 1 == 0 {
                let index = header >> 1
                return index < table.strings.count ? table.strings[Int(index)] : nil
            }
            let length = header >> 1
            guard length <= bytes.count - offset else { return nil }
            let text = String(decoding: bytes[offset..<offset + Int(length)], as: UTF8.self)
            offset += Int(length)
            return text
        }

        mutating func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count, shift < 64 {
                let byte = bytes[offset]
                offset += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
            return nil
        }
    }
}
