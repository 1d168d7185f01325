extension StatusReport {
    /// The report for people: pools, then Services, then a summary line.
    public var text: String {
        var out = ""
        if poolsKnown {
            var table = Table("POOL", "FAMILY", "SIZE", "USED", "FREE")
            for row in pools { table.add(row.pool, row.family, row.size, String(row.used), row.free) }
            out += table.text + "\n"
        } else {
            out += "pools: unknown (ConfigMap \(configMap) has no keepalived-lb.io/pools annotation yet)\n\n"
        }
        var table = Table("NAMESPACE", "NAME", "ADDRESSES", "POOL", "SHARING-KEY", "INSTANCE", "VRID", "NODE", "STATUS")
        for row in services {
            table.add(
                row.namespace, row.name, row.addresses.isEmpty ? "<pending>" : row.addresses.joined(separator: ","),
                row.pool ?? "-", row.sharingKey ?? "-", row.instance ?? "-", row.vrid.map(String.init) ?? "-",
                row.announcedBy.isEmpty ? "-" : row.announcedBy.joined(separator: ","),
                row.problems.isEmpty ? "ok" : row.problems.joined(separator: "; "))
        }
        out += table.text
        out += "\n\(services.count) LoadBalancer Services, \(unserved) unserved, \(splitBrain) in split brain\n"
        return out
    }
}
