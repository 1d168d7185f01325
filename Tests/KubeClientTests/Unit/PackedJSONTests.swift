import JSON
import TestTraits
import Testing

@testable import KubeClient

@Suite("Packed JSON (informer cache)")
struct PackedJSONTests {
    /// Random trees of every kind of value, packed and unpacked through one table, come back equal; so do
    /// objects packed once the table is full (their strings are inline).
    @Test(arguments: [UInt64(1), 2, 3])
    func roundTrip(seed: UInt64) {
        var rng = SeededGenerator(state: seed)
        var table = PackedJSON.Table()
        var packed: [(JSONValue, [UInt8])] = []
        for _ in 0..<300 {
            let value = Self.randomValue(depth: 0, &rng)
            packed.append((value, PackedJSON.pack(value, into: &table)))
        }
        for (value, bytes) in packed { #expect(PackedJSON.unpack(bytes, table: table) == value) }
    }

    @Test func theTableIsBounded() {
        var table = PackedJSON.Table()
        var packed: [(JSONValue, [UInt8])] = []
        for index in 0..<(PackedJSON.Table.maximumEntries + 500) {
            let value: JSONValue = ["uid-\(index)": .string("value-\(index)"), "kind": "Service"]
            packed.append((value, PackedJSON.pack(value, into: &table)))
        }
        #expect(table.strings.count == PackedJSON.Table.maximumEntries)
        for (value, bytes) in packed { #expect(PackedJSON.unpack(bytes, table: table) == value) }
    }

    /// A Service as the controller caches it is several times smaller packed than as compact JSON.
    @Test func aCachedServiceIsSmallerThanItsJSON() throws {
        var table = PackedJSON.Table()
        var sizes: [(packed: Int, json: Int)] = []
        for index in 0..<100 {
            let text = """
                {"metadata":{"name":"web-\(index)","namespace":"shop","uid":"6f1c8a52-1d7e-4c1b-9a0e-\(index + 100_000)c0ffee",\
                "resourceVersion":"\(12_345 + index)","creationTimestamp":"2026-11-30T13:00:00Z",\
                "finalizers":["service.kubernetes.io/load-balancer-cleanup"]},"spec":{"type":"LoadBalancer",\
                "clusterIP":"10.96.0.\(index)","clusterIPs":["10.96.0.\(index)"],"ipFamilies":["IPv4"],\
                "ipFamilyPolicy":"SingleStack","allocateLoadBalancerNodePorts":false},"status":{"loadBalancer":\
                {"ingress":[{"ip":"10.210.0.\(index)","ipMode":"VIP"}]}}}
                """
            let json = try JSONValue.parse(Array(text.utf8))
            let bytes = PackedJSON.pack(json, into: &table)
            #expect(PackedJSON.unpack(bytes, table: table) == json)
            sizes.append((bytes.count, try JSONWriter.write(json).count))
        }
        let packed = sizes.map(\.packed).reduce(0, +)
        let json = sizes.map(\.json).reduce(0, +)
        #expect(packed * 2 < json, "packed \(packed) bytes, JSON \(json) bytes")
    }

    /// uids, timestamps and resourceVersions pack as what they encode; anything near those forms stays text, and
    /// every one unpacks to its exact bytes.
    @Test(arguments: [
        ("6f1c8a52-1d7e-4c1b-9a0e-00000c0ffee1", 17), ("2026-11-30T13:00:00Z", 6), ("1969-12-31T23:59:59Z", 22),
        ("2028-02-29T23:59:59Z", 6), ("0", 2), ("9999999999999999999", 11), ("123456", 4),
        ("6F1C8A52-1D7E-4C1B-9A0E-00000C0FFEE1", 38), ("6f1c8a52-1d7e-4c1b-9a0e-00000c0ffeg1", 38),
        ("6f1c8a52_1d7e-4c1b-9a0e-00000c0ffee1", 38), ("2026-02-30T13:00:00Z", 22), ("2026-11-30T24:00:00Z", 22),
        ("2026-11-30T13:00:60Z", 22), ("2026-13-01T13:00:00Z", 22), ("2026-11-30t13:00:00Z", 22),
        ("2026-11-30T13:00:00.5Z", 24), ("007", 5), ("-1", 4), ("12a", 5), ("18446744073709551615", 22),
    ])
    func compactFormsComeBackByteForByte(text: String, packedSize: Int) {
        var table = PackedJSON.Table()
        // Past the table's bound, so that text is stored inline and its size is what is compared.
        for index in 0..<PackedJSON.Table.maximumEntries { _ = table.index(of: "filler-\(index)") }
        let bytes = PackedJSON.pack(.string(text), into: &table)
        #expect(PackedJSON.unpack(bytes, table: table) == .string(text))
        #expect(bytes.count == packedSize)
    }

    @Test func bytesThatWereNotPackedAreRefused() {
        let table = PackedJSON.Table()
        #expect(PackedJSON.unpack([], table: table) == nil)
        #expect(PackedJSON.unpack([99], table: table) == nil)
        #expect(PackedJSON.unpack([5, 0], table: table) == nil)  // a string at an index the table lacks
        #expect(PackedJSON.unpack([6, 0xff, 0xff, 0xff, 0x7f], table: table) == nil)  // more items than bytes
        #expect(PackedJSON.unpack([0, 0], table: table) == nil)  // trailing bytes
    }

    static func randomString(_ rng: inout SeededGenerator) -> String {
        let pool = [
            "", "a", "name", "é✓ unicode", "service.kubernetes.io/load-balancer-cleanup",
            String(repeating: "x", count: 100), "0123", "42", "2026-11-30T13:00:00Z", "2026-11-31T13:00:00Z",
            "6f1c8a52-1d7e-4c1b-9a0e-00000c0ffee1",
        ]
        return Bool.random(using: &rng) ? pool.randomElement(using: &rng)! : "s\(rng.next() % 1000)"
    }

    static func randomValue(depth: Int, _ rng: inout SeededGenerator) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2:
            return .int(
                [Int64.min, -1, 0, 1, 127, 128, Int64.max, Int64.random(in: -1000...1000, using: &rng)].randomElement(
                    using: &rng)!)
        case 3: return .double([0.5, -2.25, 1e300, Double.random(in: -1...1, using: &rng)].randomElement(using: &rng)!)
        case 4: return .string(randomString(&rng))
        case 5: return .array((0..<Int.random(in: 0..<4, using: &rng)).map { _ in randomValue(depth: depth + 1, &rng) })
        default:
            var object: JSONObject = [:]
            for _ in 0..<Int.random(in: 0..<5, using: &rng) {
                object[randomString(&rng)] = randomValue(depth: depth + 1, &rng)
            }
            return .object(object)
        }
    }
}
