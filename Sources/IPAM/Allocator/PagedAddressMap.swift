/// A `UInt64 → Value` map in pages of 16 consecutive keys, found through an `AddressMap` of pages.
/// Allocation hands out addresses in runs, so pages fill up: a value costs little more than its own
/// size, and growing never copies values (a flat table's rehashing did, page fault after page fault).
@usableFromInline
struct PagedAddressMap<Value>: @unchecked Sendable {
    @usableFromInline
    static var pageBits: UInt64 { 4 }
    @usableFromInline
    static var pageSize: Int { 1 << pageBits }

    /// Page number (key >> pageBits) → slot in `storage`.
    @usableFromInline
    var pages = AddressMap<Int32>()
    @usableFromInline
    var storage = Storage()
    /// Slots of pages that emptied, reused before new ones.
    @usableFromInline
    var freeSlots: [Int32] = []
    @usableFromInline
    var count = 0

    @inlinable
    init() {}

    @inline(__always)
    @inlinable
    static func bit(_ key: UInt64) -> UInt16 {
        UInt16(1) << UInt16(truncatingIfNeeded: key & UInt64(pageSize - 1))
    }

    @inlinable
    subscript(key: UInt64) -> Value? {
        guard let slot = pages[key >> Self.pageBits] else { return nil }
        let page = storage.page(slot)
        guard page.occupancy.pointee & Self.bit(key) != 0 else { return nil }
        return page.value(key).pointee
    }

    /// Inserts or replaces; returns the previous value.
    @discardableResult
    @inlinable
    mutating func updateValue(_ value: Value, forKey key: UInt64) -> Value? {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        let number = key >> Self.pageBits
        let slot: Int32
        if let existing = pages[number] {
            slot = existing
        } else {
            slot = freeSlots.popLast() ?? storage.appendSlot()
            storage.page(slot).number.pointee = number
            pages.updateValue(slot, forKey: number)
        }
        let page = storage.page(slot)
        let bit = Self.bit(key)
        if page.occupancy.pointee & bit != 0 {
            let previous = page.value(key).move()
            page.value(key).initialize(to: value)
            return previous
        }
        page.occupancy.pointee |= bit
        page.value(key).initialize(to: value)
        count += 1
        return nil
    }

    @inlinable
    mutating func removeValue(forKey key: UInt64) -> Value? {
        let number = key >> Self.pageBits
        guard let slot = pages[number], storage.page(slot).occupancy.pointee & Self.bit(key) != 0 else { return nil }
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        let page = storage.page(slot)
        let removed = page.value(key).move()
        page.occupancy.pointee &= ~Self.bit(key)
        count -= 1
        if page.occupancy.pointee == 0 {
            _ = pages.removeValue(forKey: number)
            freeSlots.append(slot)
        }
        return removed
    }

    @inlinable
    var entries: [(key: UInt64, value: Value)] {
        var result: [(key: UInt64, value: Value)] = []
        result.reserveCapacity(count)
        storage.eachValue { key, value in result.append((key, value.pointee)) }
        return result
    }

    /// Where one page's values, occupancy bits and page number live (for a chunk's first page: the chunk's arrays).
    @usableFromInline
    struct Page {
        @usableFromInline
        let values: UnsafeMutablePointer<Value>
        @usableFromInline
        let occupancy: UnsafeMutablePointer<UInt16>
        @usableFromInline
        let number: UnsafeMutablePointer<UInt64>

        @inlinable
        init(
            values: UnsafeMutablePointer<Value>, occupancy: UnsafeMutablePointer<UInt16>,
            number: UnsafeMutablePointer<UInt64>
        ) {
            (self.values, self.occupancy, self.number) = (values, occupancy, number)
        }

        @inline(__always)
        @inlinable
        func value(_ key: UInt64) -> UnsafeMutablePointer<Value> {
            values + Int(key & UInt64(PagedAddressMap.pageSize - 1))
        }
    }

    /// Pages live in chunks that never move: chunk k holds `4 << k` pages, so a small map stays small
    /// and a large one needs few chunks. Only pointers are stored, so reads pay no exclusivity check.
    @usableFromInline
    final class Storage {
        @usableFromInline
        static var maximumChunks: Int { 40 }
        /// Each chunk's first page; the chunk's other pages follow it in all three arrays.
        @usableFromInline
        let chunks: UnsafeMutablePointer<Page>
        /// Slots handed out so far; touched only when a page is added, copied or freed.
        @usableFromInline
        var slotCount = 0

        @inlinable
        init() {
            chunks = .allocate(capacity: Self.maximumChunks)
        }

        deinit {
            // A generic class's deinit is not specialised: skip the per-value walk for trivial values.
            if !_isPOD(Value.self) { eachValue { _, value in value.deinitialize(count: 1) } }
            let used = slotCount == 0 ? 0 : Self.locate(Int32(slotCount - 1)).chunk + 1
            for k in 0..<used {
                chunks[k].values.deallocate()
                chunks[k].occupancy.deallocate()
                chunks[k].number.deallocate()
            }
            chunks.deallocate()
        }

        /// Chunk k starts at slot `4 * (2^k - 1)`.
        @inline(__always)
        @inlinable
        static func locate(_ slot: Int32) -> (chunk: Int, index: Int) {
            let k = Int.bitWidth - 1 - (Int(slot) / 4 + 1).leadingZeroBitCount
            return (k, Int(slot) - 4 * ((1 << k) - 1))
        }

        @inline(__always)
        @inlinable
        func page(_ slot: Int32) -> Page {
            let (k, index) = Self.locate(slot)
            let first = chunks[k]
            return Page(
                values: first.values + index * PagedAddressMap.pageSize, occupancy: first.occupancy + index,
                number: first.number + index)
        }

        /// A new, empty slot at the end.
        @inlinable
        func appendSlot() -> Int32 {
            let slot = Int32(slotCount)
            let (k, index) = Self.locate(slot)
            if index == 0 {
                precondition(k < Self.maximumChunks, "PagedAddressMap: more pages than an address space has")
                let pages = 4 << k
                chunks[k] = Page(
                    values: .allocate(capacity: pages * PagedAddressMap.pageSize),
                    occupancy: .allocate(capacity: pages),
                    number: .allocate(capacity: pages))
            }
            page(slot).occupancy.initialize(to: 0)
            slotCount += 1
            return slot
        }

        /// Calls `body` for every set value, slot by slot.
        @inlinable
        func eachValue(_ body: (UInt64, UnsafeMutablePointer<Value>) -> Void) {
            for slot in 0..<Int32(slotCount) {
                let page = self.page(slot)
                let occupancy = page.occupancy.pointee
                guard occupancy != 0 else { continue }
                let base = page.number.pointee << PagedAddressMap.pageBits
                for offset in 0..<UInt64(PagedAddressMap.pageSize) where occupancy & (1 << UInt16(offset)) != 0 {
                    body(base | offset, page.value(offset))
                }
            }
        }

        /// A deep copy, slot for slot (so the page index stays valid for it).
        @inlinable
        func copy() -> Storage {
            let copy = Storage()
            for slot in 0..<Int32(slotCount) {
                let source = page(slot)
                let into = copy.page(copy.appendSlot())
                into.occupancy.pointee = source.occupancy.pointee
                into.number.pointee = source.number.pointee
                for offset in 0..<UInt64(PagedAddressMap.pageSize)
                where source.occupancy.pointee & (1 << UInt16(offset)) != 0 {
                    into.value(offset).initialize(to: source.value(offset).pointee)
                }
            }
            return copy
        }
    }
}
