import Foundation
import IPAM
import Keepalived
import KubeClient
import Netlink

extension NodeAgent {
    /// Recomputes the desired keepalived.conf after any ConfigMap or Node change.
    func changed() async {
        guard !stopping, await configMaps.hasSynced, await nodes.hasSynced else { return }
        guard let me = await nodes.get(configuration.nodeName) else {
            logger.warning("no Node object named \(configuration.nodeName); waiting (check --node-name)")
            return
        }
        let newPlan: VRRPPlan?
        do {
            newPlan = try await currentPlan()
        } catch {
            metrics.planErrors.increment()
            logger.error("refusing the VRRP plan; keeping the previous one", metadata: ["error": "\(error)"])
            return
        }
        do {
            try await apply(newPlan, me: me)
            isReady = true
        } catch {
            logger.error("could not apply the VRRP plan", metadata: ["error": "\(error)"])
        }
    }

    private func currentPlan() async throws(KeepalivedError) -> VRRPPlan? {
        let key = "\(configuration.namespace)/\(configuration.configMapName)"
        guard let text = await configMaps.get(key)?.data[VRRPPlan.dataKey] else { return nil }
        return try VRRPPlan(json: text)
    }

    private func apply(_ newPlan: VRRPPlan?, me: Node) async throws {
        let addresses = Self.internalAddresses(of: me)
        ownAddresses = Set(addresses)
        let link = try resolveLink(addresses)
        if !scrubbedAtStart {
            // Before keepalived runs nothing here may hold a VIP: clear what a crash left behind.
            let previous = (try? String(contentsOfFile: planPath, encoding: .utf8)).flatMap { try? VRRPPlan(json: $0) }
            removeVIPs(of: previous, reason: "left from a previous run")
            removeVIPs(of: newPlan, reason: "left from a previous run")
            scrubbedAtStart = true
        }
        var peers: [IPAddress] = []
        if configuration.unicast, let newPlan {
            for name in newPlan.nodes where name != configuration.nodeName {
                if let node = await nodes.get(name) { peers += Self.internalAddresses(of: node) }
            }
        }
        let settings = try NodeSettings(nodeName: configuration.nodeName, interface: link.name, sourceAddresses: addresses,
                                        unicastPeers: peers, advertIntervalMilliseconds: configuration.advertIntervalMilliseconds,
                                        notifyFIFO: fifoPath)
        let emptyPlan = try VRRPPlan(cluster: newPlan?.cluster ?? "none", nodes: [], instances: [])
        let text = KeepalivedConfig.render(plan: newPlan ?? emptyPlan, node: settings)
        let oldPlan = plan
        plan = newPlan
        guard text != renderedText else { return }
        try write(text, to: supervisor.paths.config)
        if let newPlan { try write(newPlan.json(), to: planPath) }
        renderedText = text

        if !hasInstances(newPlan) {
            await supervisor.stop()
            tracker = VRRPStateTracker()
            removeVIPs(of: oldPlan, reason: "no instance for this node")
        } else if await supervisor.isRunning {
            await supervisor.reload()
            metrics.reloads.increment()
        } else {
            try await supervisor.start()
        }
        // VIPs that left the plan must leave the interface, whatever keepalived does.
        let kept = Set(newPlan?.instances.flatMap(\.addresses) ?? [])
        removeVIPs(oldPlan?.instances.flatMap(\.addresses).filter { !kept.contains($0) } ?? [], reason: "removed from the plan")
        await publish()
    }

    private func resolveLink(_ addresses: [IPAddress]) throws -> Link {
        if let link { return link }
        let resolved: Link
        if let name = configuration.interface {
            resolved = try addressing.link(named: name)
        } else if let address = addresses.first {
            resolved = try addressing.link(holding: address)
        } else {
            throw AgentError("NoInterface", "node \(configuration.nodeName) has no InternalIP address to find its interface by; pass --interface")
        }
        link = resolved
        logger.info("managing VIPs on \(resolved.name)")
        return resolved
    }

    private func write(_ text: String, to path: String) throws {
        // Write-then-rename: keepalived never reads a half-written file.
        let temporary = path + ".tmp"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            throw AgentError("WriteFailed", "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func internalAddresses(of node: Node) -> [IPAddress] {
        node.status.addresses.filter { $0.type == "InternalIP" }.compactMap { $0.address.flatMap { try? IPAddress($0) } }
    }

    // MARK: - VIPs on the interface

    func removeVIPs(of plan: VRRPPlan?, reason: String) {
        removeVIPs(plan?.instances.flatMap(\.addresses) ?? [], reason: reason)
    }

    /// Removes those of `addresses` that sit on the interface as VIPs (full-length prefix),
    /// never the node's own addresses.
    func removeVIPs(_ addresses: [IPAddress], reason: String) {
        guard let link, !addresses.isEmpty else { return }
        let wanted = Set(addresses).subtracting(ownAddresses)
        let present: [InterfaceAddress]
        do {
            present = try addressing.addresses(on: link)
        } catch {
            logger.error("cannot list addresses to remove stale VIPs", metadata: ["error": "\(error)"])
            return
        }
        for entry in present where wanted.contains(entry.address) && entry.prefixLength == entry.address.family.bitWidth {
            do {
                try addressing.remove(entry.address, prefixLength: entry.prefixLength, from: link)
                metrics.staleVIPsRemoved.increment()
                logger.info("removed VIP", metadata: ["address": "\(entry.address)", "reason": "\(reason)"])
            } catch {
                logger.error("cannot remove VIP", metadata: ["address": "\(entry.address)", "error": "\(error)"])
            }
        }
    }

    /// Cross-checks keepalived's reports against the interface: VIPs present while keepalived is
    /// not running go at once; any other disagreement is counted and logged.
    func verify() async {
        guard let link, let plan, !stopping else { return }
        let planned = Set(plan.instances.flatMap(\.addresses))
        guard let present = try? addressing.addresses(on: link).map(\.address).filter({ planned.contains($0) }) else { return }
        if await !supervisor.isRunning && !present.isEmpty {
            removeVIPs(present, reason: "held while keepalived is not running")
            return
        }
        let held = Set(tracker.held(in: plan))
        let mismatches = Set(present).symmetricDifference(held)
        metrics.vipsHeld.record(present.count)
        metrics.vipMismatches.record(mismatches.count)
        if !mismatches.isEmpty {
            logger.debug("interface and keepalived disagree (transient during a transition)", metadata: ["addresses": "\(mismatches.sorted())"])
        }
        await publish()
    }
}
