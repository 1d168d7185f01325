/// An exact number of addresses, up to 2^128 (the whole IPv6 space), which `UInt128` cannot hold.
public struct AddressCount: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Whole multiples of 2^128; 0 or 1 for any real pool.
    let high: UInt64
    let low: UInt128

    public init(_ value: UInt128) {
        high = 0
        low = value
    }

    @usableFromInline
    init(high: UInt64, low: UInt128) {
        self.high = high
        self.low = low
    }

    public static let zero = AddressCount(0)

    /// The count when it fits in 128 bits.
    public var exactValue: UInt128? { high == 0 ? low : nil }

    /// An approximation for metrics, which Prometheus carries as floating point anyway.
    public var doubleValue: Double { Double(high) * 0x1p128 + Double(low) }

    public static func + (lhs: Self, rhs: Self) -> Self {
        let (sum, carry) = lhs.low.addingReportingOverflow(rhs.low)
        return AddressCount(high: lhs.high + rhs.high + (carry ? 1 : 0), low: sum)
    }

    /// Saturates at zero: a count is never negative.
    public static func - (lhs: Self, rhs: Self) -> Self {
        if rhs >= lhs { return .zero }
        let (difference, borrow) = lhs.low.subtractingReportingOverflow(rhs.low)
        return AddressCount(high: lhs.high - rhs.high - (borrow ? 1 : 0), low: difference)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public var description: String {
        if high == 0 { return low.description }
        // 2^128 * high + low, added in decimal.
        var digits = Array("340282366920938463463374607431768211456".utf8.reversed().map { Int($0) - 48 })
        digits = digits.map { $0 * Int(high) }
        let lowDigits = low.description.utf8.reversed().map { Int($0) - 48 }
        var result: [Int] = []
        var carry = 0
        for index in 0..<max(digits.count, lowDigits.count) {
            let total =
                (index < digits.count ? digits[index] : 0) + (index < lowDigits.count ? lowDigits[index] : 0) + carry
            result.append(total % 10)
            carry = total / 10
        }
        while carry > 0 {
            result.append(carry % 10)
            carry /= 10
        }
        return String(result.reversed().map { Character(Unicode.Scalar(UInt8($0 + 48))) })
    }
}
