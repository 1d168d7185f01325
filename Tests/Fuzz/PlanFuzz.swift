import IPAM
import Keepalived

/// What others can write into the VIP ConfigMap and the Node annotations: the plan, the
/// predecessor's ledger, kube-keepalived-vip entries, an agent's published state. Whatever is
/// accepted renders a keepalived.conf whose structure the input cannot change.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPlan(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let plan = try? VRRPPlan(json: text) {
        guard let again = try? VRRPPlan(json: plan.json()), again == plan else {
            fatalError("plan does not round-trip")
        }
        let node = try! NodeSettings(
            nodeName: plan.nodes.first ?? "node-a", interface: "eth0", sourceAddresses: [], unicastPeers: [])
        // Per instance: its own block and `virtual_ipaddress`, and with token adverts `virtual_ipaddress_excluded`.
        for (adverts, blocks) in [(AdvertisedAddresses.token, 3), (.vips, 2)] {
            let config = KeepalivedConfig.render(plan: plan, node: node, adverts: adverts)
            let open = config.filter { $0 == "{" }.count
            let close = config.filter { $0 == "}" }.count
            let instances = config.components(separatedBy: "vrrp_instance ").dropFirst().count
            guard open == close, open == 1 + blocks * instances else {
                fatalError("the plan changed keepalived.conf's structure")
            }
        }
    }
    _ = try? LegacyLedger(json: text)
    _ = NodeVRRPState(annotation: text)
    var entries: [String: String] = [:]
    for line in text.split(separator: "\n").prefix(64) {
        let parts = line.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { entries[String(parts[0])] = String(parts[1]) }
    }
    let decoded = VIPConfigMapFormat.decode(entries)
    for entry in decoded.entries where (try? IPAddress(entry.address.description)) != entry.address {
        fatalError("an entry's address does not round-trip")
    }
    return 0
}
