extension IPAddress {
    /// The address `offset` places further on; throws instead of wrapping past the end of the family.
    public func adding(_ offset: UInt128) throws(IPAMError) -> IPAddress {
        let (sum, overflow) = value.addingReportingOverflow(offset)
        guard !overflow, sum <= family.maxValue else {
            throw IPAMError(.overflow, "\(self) + \(offset) is past the last \(family) address")
        }
        return IPAddress(family: family, value: sum)
    }

    /// The address `offset` places back; throws instead of wrapping below the first address.
    public func subtracting(_ offset: UInt128) throws(IPAMError) -> IPAddress {
        guard offset <= value else {
            throw IPAMError(.overflow, "\(self) - \(offset) is before the first \(family) address")
        }
        return IPAddress(family: family, value: value - offset)
    }

    /// The number of addresses from `self` up to `other`; throws for mixed families or `other < self`.
    public func distance(to other: IPAddress) throws(IPAMError) -> UInt128 {
        guard family == other.family else {
            throw IPAMError(.familyMismatch, "cannot measure from \(self) to \(other): different address families")
        }
        guard other.value >= value else {
            throw IPAMError(.overflow, "\(other) is before \(self)")
        }
        return other.value - value
    }
}
