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
