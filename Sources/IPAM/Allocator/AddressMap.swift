/// A `UInt64 → Value` hash map with open addressing, linear probing and backward-shift deletion: the
/// page index of `PagedAddressMap`, looked up on every allocation. A multiply-xorshift hash is several
/// times cheaper than SipHash (keys are addresses the controller chose, not attacker input), and
/// marking empty slots with the key `UInt64.max` keeps a slot to key + value.
@usableFromInline
struct AddressMap<Value>: @unchecked Sendable {
    @usableFromInline
    var storage = Storage(capacity: 16)
    /// The one key that cannot live in `storage`, where it marks an empty slot.
    @usableFromInline
    var maxKeyValue: Value?
    /// Kept here rather than in `Storage`: a class `var` would pay a dynamic exclusivity check per access.
    @usableFromInline
    var count = 0

    @inlinable
    init() {}

    @inlinable
    subscript(key: UInt64) -> Value? {
        if key == Storage.empty { return maxKeyValue }
        guard let slot = storage.find(key) else { return nil }
        return storage.values[slot]
    }

    /// Inserts or replaces; returns the previous value.
    @discardableResult
    @inlinable
    mutating func updateValue(_ value: Value, forKey key: UInt64) -> Value? {
        let previous: Value?
        if key == Storage.empty {
            previous = maxKeyValue
            maxKeyValue = value
        } else {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy(capacity: storage.capacity) }
            if (count + 1) * 4 > storage.capacity * 3 { storage = storage.copy(capacity: storage.capacity * 2) }
            previous = storage.insert(value, key)
        }
        if previous == nil { count += 1 }
        return previous
    }

    @inlinable
    mutating func removeValue(forKey key: UInt64) -> Value? {
        let removed: Value?
        if key == Storage.empty {
            removed = maxKeyValue
            maxKeyValue = nil
        } else {
            guard storage.find(key) != nil else { return nil }
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy(capacity: storage.capacity) }
            removed = storage.remove(key)
        }
        if removed != nil { count -= 1 }
        return removed
    }

    @inlinable
    var entries: [(key: UInt64, value: Value)] {
        var result = (0..<storage.capacity).compactMap {
            storage.keys[$0] != Storage.empty ? (storage.keys[$0], storage.values[$0]) : nil
        }
        if let maxKeyValue { result.append((Storage.empty, maxKeyValue)) }
        return result
    }

    @usableFromInline
    final class Storage {
        @inlinable
        static var empty: UInt64 { .max }
        @usableFromInline
        let capacity: Int
        @usableFromInline
        let shift: UInt64
        @usableFromInline
        let keys: UnsafeMutablePointer<UInt64>
        @usableFromInline
        let values: UnsafeMutablePointer<Value>

        @inlinable
        init(capacity: Int) {
            self.capacity = capacity
            shift = UInt64(64 - capacity.trailingZeroBitCount)
            keys = .allocate(capacity: capacity)
            keys.initialize(repeating: Self.empty, count: capacity)
            values = .allocate(capacity: capacity)
        }

        deinit {
            // A generic class's deinit is not specialised: skip the per-slot walk for trivial values.
            if !_isPOD(Value.self) {
                for slot in 0..<capacity where keys[slot] != Self.empty { (values + slot).deinitialize(count: 1) }
            }
            keys.deallocate()
            values.deallocate()
        }

        /// Fibonacci hashing: the top bits of `key * 2^64/φ` spread consecutive addresses evenly.
        @inline(__always)
        @inlinable
        func home(_ key: UInt64) -> Int {
            Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        }

        @inlinable
        func find(_ key: UInt64) -> Int? {
            var slot = home(key)
            while keys[slot] != Self.empty {
                if keys[slot] == key { return slot }
                slot = (slot + 1) & (capacity - 1)
            }
            return nil
        }

        @inlinable
        func insert(_ value: Value, _ key: UInt64) -> Value? {
            var slot = home(key)
            while keys[slot] != Self.empty {
                if keys[slot] == key {
                    let previous = (values + slot).move()
                    (values + slot).initialize(to: value)
                    return previous
                }
                slot = (slot + 1) & (capacity - 1)
            }
            keys[slot] = key
            (values + slot).initialize(to: value)
            return nil
        }

        @inlinable
        func remove(_ key: UInt64) -> Value? {
            guard var hole = find(key) else { return nil }
            let removed = (values + hole).move()
            keys[hole] = Self.empty
            // Pull later entries of the probe chain back so lookups never stop at the hole.
            var slot = (hole + 1) & (capacity - 1)
            while keys[slot] != Self.empty {
                let h = home(keys[slot])
                let movable = hole < slot ? (h <= hole || h > slot) : (h <= hole && h > slot)
                if movable {
                    keys[hole] = keys[slot]
                    (values + hole).moveInitialize(from: values + slot, count: 1)
                    keys[slot] = Self.empty
                    hole = slot
                }
                slot = (slot + 1) & (capacity - 1)
            }
            return removed
        }

        /// A copy with `capacity` slots (the same, or larger to grow).
        @inlinable
        func copy(capacity: Int) -> Storage {
            let copy = Storage(capacity: capacity)
            for slot in 0..<self.capacity where keys[slot] != Self.empty {
                _ = copy.insert(values[slot], keys[slot])
            }
            return copy
        }
    }
}
