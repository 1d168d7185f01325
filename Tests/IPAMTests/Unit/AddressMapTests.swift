import TestTraits
import Testing

@testable import IPAM

@Suite("AddressMap")
struct AddressMapTests {
    @Test("behaves like Dictionary under random inserts, updates and removals", arguments: [UInt64(1), 2, 3, 4, 5])
    func matchesDictionary(seed: UInt64) {
        var rng = SeededGenerator(state: seed)
        var map = AddressMap<String>()
        var model: [UInt64: String] = [:]
        // A small key space forces long probe chains and wrap-around; UInt64.max is the empty marker.
        let keys: [UInt64] = (0..<300).map { _ in UInt64.random(in: 0..<400, using: &rng) } + [.max, .max - 1, 0]
        for step in 0..<20_000 {
            let key = keys.randomElement(using: &rng)!
            if Bool.random(using: &rng) {
                #expect(map.updateValue("v\(step)", forKey: key) == model.updateValue("v\(step)", forKey: key))
            } else {
                #expect(map.removeValue(forKey: key) == model.removeValue(forKey: key))
            }
            #expect(map.count == model.count)
        }
        for key in keys { #expect(map[key] == model[key]) }
        #expect(Dictionary(uniqueKeysWithValues: map.entries.map { ($0.key, $0.value) }) == model)
    }

    @Test func copiesOnWrite() {
        var a = AddressMap<Int>()
        a.updateValue(1, forKey: 7)
        var b = a
        b.updateValue(2, forKey: 7)
        _ = b.removeValue(forKey: 7)
        #expect(a[7] == 1 && b[7] == nil)
    }
}

@Suite("PagedAddressMap")
struct PagedAddressMapTests {
    /// Keys in a few dense clusters (full and partly full pages, pages that empty and are reused) and
    /// scattered ones (one key per page), with values that own memory.
    @Test("behaves like Dictionary under random inserts, updates and removals", arguments: [UInt64(1), 2, 3, 4, 5])
    func matchesDictionary(seed: UInt64) {
        var rng = SeededGenerator(state: seed)
        var map = PagedAddressMap<String>()
        var model: [UInt64: String] = [:]
        let dense = (0..<200).map { UInt64($0) } + (0..<40).map { 0xA_D200 + UInt64($0) }
        let scattered = (0..<100).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) }
        let keys = dense + scattered + [.max, .max - 1, 0]
        var snapshots: [(PagedAddressMap<String>, [UInt64: String])] = []
        for step in 0..<20_000 {
            let key = keys.randomElement(using: &rng)!
            if Int.random(in: 0..<5, using: &rng) < 3 {
                #expect(map.updateValue("v\(step)", forKey: key) == model.updateValue("v\(step)", forKey: key))
            } else {
                #expect(map.removeValue(forKey: key) == model.removeValue(forKey: key))
            }
            #expect(map.count == model.count)
            if step % 5_000 == 0 { snapshots.append((map, model)) }
        }
        for key in keys { #expect(map[key] == model[key]) }
        #expect(Dictionary(uniqueKeysWithValues: map.entries.map { ($0.key, $0.value) }) == model)
        // Copies taken along the way were never changed by the writes after them.
        for (copy, expected) in snapshots {
            #expect(Dictionary(uniqueKeysWithValues: copy.entries.map { ($0.key, $0.value) }) == expected)
        }
    }

    @Test func copiesOnWrite() {
        var a = PagedAddressMap<Int>()
        for key in 0..<UInt64(100) { a.updateValue(Int(key), forKey: key) }
        var b = a
        b.updateValue(-1, forKey: 7)
        _ = b.removeValue(forKey: 8)
        b.updateValue(1_000, forKey: 1_000)
        #expect(a[7] == 7 && a[8] == 8 && a[1_000] == nil && a.count == 100)
        #expect(b[7] == -1 && b[8] == nil && b[1_000] == 1_000 && b.count == 100)
    }

    /// A sequential fill, as allocating a whole pool does, spans several chunks of pages.
    @Test func sequentialFillAcrossChunks() {
        var map = PagedAddressMap<Int>()
        let base: UInt64 = 0x0AD2_0001
        for offset in 0..<UInt64(65_534) { map.updateValue(Int(offset), forKey: base + offset) }
        #expect(map.count == 65_534)
        #expect(map[base] == 0 && map[base + 65_533] == 65_533 && map[base + 65_534] == nil && map[base - 1] == nil)
        for offset in stride(from: UInt64(0), to: 65_534, by: 2) { _ = map.removeValue(forKey: base + offset) }
        #expect(map.count == 32_767 && map[base + 1] == 1 && map[base + 2] == nil)
    }
}
