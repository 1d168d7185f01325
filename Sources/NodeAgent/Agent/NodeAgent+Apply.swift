import CoreMetrics
import Errors
import Foundation
import IPAM
import Keepalived
import KubeClient
import LoadBalancerAPI
import Logging
import NodeNetwork

extension NodeAgent {
    /// Recomputes the desired keepalived.conf after any ConfigMap or Node change, one pass at a time: a pass resumed
    /// after a later one wrote its older plan, once one without instances while keepalived was starting.
    func changed() async {
        guard passes.begin() else { return }
        repeat { await applyCurrentPlan() } while passes.next()
    }

    private func applyCurrentPlan() async {
        guard !machine.stopping, await configMaps.hasSynced, await nodes.hasSynced else { return }
        guard let ownNode = await nodes.get(ObjectKey(namespace: nil, name: configuration.nodeName)) else {
            logger.warning("no Node object named \(configuration.nodeName); waiting (check --node-name)")
            return
        }
        let newPlan: VRRPPlan
        switch await currentPlan() {
        case .success(let plan):
            newPlan = plan
        case .failure(let reason):
            if case .invalid = reason { metrics.planErrors.increment() }
            await handle(.planUnavailable(reason: reason.message))
            return
        }
        lastUnavailableReason = nil
        do {
            let (applied, config, agentHeld) = try await render(newPlan, ownNode: ownNode)
            await handle(.planChanged(applied, config: config, agentHeld: agentHeld))
            hasApplied = true
            await syncConnections()
        } catch {
            logger.error("could not apply the VRRP plan", metadata: ["error": "\(error)"])
        }
    }

    /// Why there is no plan to apply. Each keeps the previous plan: an empty or missing plan is
    /// never read as "serve nothing" (the controller writes an explicit plan with no instances).
    enum PlanUnavailable: Error {
        case configMapMissing(ObjectKey)
        case keyMissing(ObjectKey)
        case invalid(String)

        var message: String {
            switch self {
            case .configMapMissing(let key): "ConfigMap \(key) does not exist"
            case .keyMissing(let key): "ConfigMap \(key) has no key \(VRRPPlan.dataKey)"
            case .invalid(let message): message
            }
        }
    }

    private func currentPlan() async -> Result<VRRPPlan, PlanUnavailable> {
        let key = ObjectKey(namespace: configuration.namespace, name: configuration.configMapName)
        return Self.plan(in: await configMaps.get(key), key: key)
    }

    /// The plan the ConfigMap `key` (as an informer has it) carries, or why there is none to use.
    static func plan(in configMap: ConfigMap?, key: ObjectKey) -> Result<VRRPPlan, PlanUnavailable> {
        guard let configMap else { return .failure(.configMapMissing(key)) }
        guard let text = configMap.data[VRRPPlan.dataKey] else { return .failure(.keyMissing(key)) }
        do {
            return .success(try VRRPPlan(json: text))
        } catch {
            return .failure(.invalid("ConfigMap \(key): \(error.message)"))
        }
    }

    /// The plan as this node applies it (`VRRPPlan.view(for:)`) and its keepalived.conf; clears what a crash left
    /// behind the first time.
    private func render(_ newPlan: VRRPPlan, ownNode: Node) async throws -> (VRRPPlan, String, [IPAddress]) {
        let addresses = ownNode.internalAddresses
        ownAddresses = Set(addresses)
        let link = try resolveLink(addresses)
        var members: [String: NodeRenderInput.Member] = [:]
        for name in newPlan.nodes where name != configuration.nodeName {
            if let node = await nodes.get(ObjectKey(namespace: nil, name: name)) { members[name] = .init(node) }
        }
        if interfaces == nil { refreshInterfaces() }
        let input = NodeRenderInput(
            plan: newPlan, node: .init(ownNode), member: { members[$0] }, interface: link.name,
            unicast: configuration.unicast, advertIntervalMilliseconds: configuration.advertIntervalMilliseconds,
            stateDirectory: configuration.stateDirectory, interfaces: interfaces.map(Set.init))
        self.peers = input.unicastPeers
        if !scrubbedAtStart {
            // Before keepalived runs nothing here may hold a VIP: clear what a crash left behind. Not the VIPs only
            // this node may hold: the previous agent left them for this one (a rolling update).
            let kept = Set(
                input.agentHeld(
                    in: newPlan.applied(
                        by: configuration.nodeName, adverts: input.adverts,
                        interfaces: input.interfaces)))
            let previous = (try? String(contentsOfFile: planPath, encoding: .utf8)).flatMap { try? VRRPPlan(json: $0) }
            removeVIPs(
                Array(Set((previous?.addresses ?? []) + newPlan.addresses).subtracting(kept)),
                reason: "left from a previous run")
            removeTokens((previous?.tokens ?? []) + newPlan.tokens, reason: "left from a previous run")
            scrubbedAtStart = true
        }
        for notice in machine.advertsAgreed(input.adverts, for: newPlan) {
            switch notice {
            case .changed(.token):
                logger.notice(
                    "every node's agent renders token adverts: VRRP adverts list one token per instance",
                    metadata: ["adverts": "\(AdvertisedAddresses.token.rawValue)"])
            case .changed(let other):
                logger.notice(
                    """
                    a node of the plan runs an agent that lists the VIPs in its VRRP adverts; listing them too \
                    until every agent is upgraded
                    """, metadata: ["adverts": "\(other.rawValue)"])
            case .restrictedVIPsFollowMastership:
                logger.warning(
                    "an older agent lists VIPs in its VRRP adverts: Local VIPs are held wherever this node is master",
                    metadata: ["until": "every node runs an agent that publishes tokenAdverts"])
            }
        }
        return try input.render(startingAsMaster: machine.startAsMaster(in: newPlan))
    }

    private func resolveLink(_ addresses: [IPAddress]) throws -> Link {
        if let link { return link }
        let resolved: Link
        if let name = configuration.interface {
            resolved = try addressing.link(named: name)
        } else if let address = addresses.first {
            resolved = try addressing.link(holding: address)
        } else {
            throw AgentError(
                .noInterface,
                "node \(configuration.nodeName) has no InternalIP address to find its interface by; pass --interface")
        }
        link = resolved
        logger.info("managing VIPs on \(resolved.name)")
        return resolved
    }

    func write(_ text: String, to path: String) throws {
        // Write-then-rename: keepalived never reads a half-written file.
        let temporary = path + ".tmp"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            throw AgentError(.writeFailed, "\(SystemCallError("cannot replace \(path)"))")
        }
    }

    // MARK: - VIPs on the interface

    /// Removes those of `addresses` that sit on the interface as VIPs (full-length prefix),
    /// never the node's own addresses.
    func removeVIPs(_ addresses: [IPAddress], reason: String) {
        guard link != nil, !addresses.isEmpty else { return }
        let wanted = Set(addresses).subtracting(ownAddresses)
        let present: [InterfaceAddress]
        do {
            // Every interface: a pool may put its VIPs on another than the agent's.
            present = try addressing.addresses(on: nil)
        } catch {
            logger.error("cannot list addresses to remove stale VIPs", metadata: ["error": "\(error)"])
            return
        }
        let names = Dictionary(((try? addressing.links()) ?? []).map { ($0.index, $0.name) }) { first, _ in first }
        for entry in present where wanted.contains(entry.address) && entry.prefixLength == entry.address.family.bitWidth
        {
            do {
                let name = names[entry.interfaceIndex] ?? "#\(entry.interfaceIndex)"
                try addressing.remove(
                    entry.address, prefixLength: entry.prefixLength, from: Link(index: entry.interfaceIndex, name: name)
                )
                metrics.staleVIPsRemoved.increment()
                logger.info("removed VIP", metadata: ["address": "\(entry.address)", "reason": "\(reason)"])
            } catch {
                logger.error("cannot remove VIP", metadata: ["address": "\(entry.address)", "error": "\(error)"])
            }
        }
    }

    /// Puts those of `addresses` that are missing on their interface (the pool's, else the agent's) with a
    /// full-length prefix: the VIPs the agent holds itself.
    func addVIPs(_ addresses: [IPAddress]) {
        guard let link, let plan, !addresses.isEmpty else { return }
        let present: Set<IPAddress>
        do {
            present = Set(try addressing.addresses(on: nil).map(\.address))
        } catch {
            logger.error(
                "cannot list addresses to add the VIPs only this node may hold", metadata: ["error": "\(error)"])
            return
        }
        for address in addresses where !present.contains(address) {
            let name = plan.instances.lazy.compactMap { $0.interfaces[address] }.first ?? link.name
            let target: Link
            do {
                target = name == link.name ? link : try addressing.link(named: name)
                try addressing.add(address, prefixLength: address.family.bitWidth, to: target)
                logger.info(
                    "holding VIP: only this node may hold it",
                    metadata: ["address": "\(address)", "interface": "\(name)"])
            } catch {
                logger.error("cannot add VIP", metadata: ["address": "\(address)", "error": "\(error)"])
                continue
            }
            // The neighbours may still have it at the node that held it before (its endpoints moved here).
            do {
                try packets.announce(address, hardwareAddress: try addressing.hardwareAddress(of: target), on: target)
                metrics.neighbourAnnouncements.increment()
            } catch {
                logger.warning(
                    "could not announce the VIP to the neighbours; they find it once their cached entry expires",
                    metadata: ["address": "\(address)", "error": "\(error)"])
            }
        }
    }

    /// Removes those of `tokens` that a dead keepalived left on `VRRPPlan.tokenDevice`.
    func removeTokens(_ tokens: [IPAddress], reason: String) {
        guard !tokens.isEmpty else { return }
        let wanted = Set(tokens)
        do {
            let device = try addressing.link(named: VRRPPlan.tokenDevice)
            for entry in try addressing.addresses(on: device)
            where wanted.contains(entry.address) && entry.prefixLength == entry.address.family.bitWidth {
                try addressing.remove(entry.address, prefixLength: entry.prefixLength, from: device)
                logger.debug("removed VRRP token", metadata: ["address": "\(entry.address)", "reason": "\(reason)"])
            }
        } catch {
            logger.warning("cannot remove VRRP tokens from \(VRRPPlan.tokenDevice)", metadata: ["error": "\(error)"])
        }
    }

    /// Cross-checks keepalived's reports against the interface: VIPs present while keepalived is
    /// not running go at once; any other disagreement is counted and logged.
    /// Lists the node's interfaces; true when they changed since the last listing.
    @discardableResult
    func refreshInterfaces() -> Bool {
        guard let names = try? addressing.links().map(\.name).filter({ (try? InterfaceName.validate($0)) != nil })
        else { return false }
        let listed = Array(names.prefix(256))
        guard listed != interfaces else { return false }
        interfaces = listed
        return true
    }

    func verify() async {
        if refreshInterfaces(), plan != nil {
            // A pool's interface came or went: the plan applies differently, and the controller must know.
            await changed()
            await publish()
        }
        guard link != nil, let plan, !machine.stopping else { return }
        let planned = Set(plan.addresses)
        // Every interface: a pool may put its VIPs on another than the agent's.
        guard let present = try? addressing.addresses(on: nil).map(\.address).filter({ planned.contains($0) }) else {
            return
        }
        let agentHeld = Set(machine.agentHeld)
        if await !supervisor.isRunning && present.contains(where: { !agentHeld.contains($0) }) {
            removeVIPs(present.filter { !agentHeld.contains($0) }, reason: "held while keepalived is not running")
            return
        }
        // Something else removed one (an operator, another tool): the agent holds these itself.
        if !agentHeld.isSubset(of: present) { addVIPs(machine.agentHeld) }
        let held = Set(machine.heldAddresses)
        let mismatches = Set(present).symmetricDifference(held)
        metrics.vipsHeld.record(present.count)
        metrics.vipMismatches.record(mismatches.count)
        if !mismatches.isEmpty {
            logger.debug(
                "interface and keepalived disagree (transient during a transition)",
                metadata: ["addresses": "\(mismatches.sorted())"])
        }
        await publish()
    }

    /// The priority-0 adverts a dead keepalived did not send (see `AgentStateMachine.Action.announceRelease`),
    /// per family as keepalived sends them: by unicast from the node's address to its peers, or to the
    /// VRRP multicast group (IPv6: from the interface's link-local address).
    func announceRelease(_ instances: [VRRPPlan.Instance]) {
        guard let link else { return }
        for family in IPFamily.allCases {
            let ofFamily = instances.filter { $0.family == family }
            guard !ofFamily.isEmpty else { continue }
            let source: IPAddress?
            let destinations: [IPAddress]
            if configuration.unicast {
                source = ownAddresses.sorted().first { $0.family == family }
                destinations = peers.filter { $0.family == family }
            } else if family == .ipv4 {
                source = ownAddresses.sorted().first { $0.family == .ipv4 }
                destinations = [VRRPAdvertisement.ipv4Multicast]
            } else {
                source = ((try? addressing.addresses(on: link)) ?? []).map(\.address).first {
                    $0.family == .ipv6 && $0.value >> 118 == 0x3fa  // fe80::/10
                }
                destinations = [VRRPAdvertisement.ipv6Multicast]
            }
            guard let source, !destinations.isEmpty else { continue }
            announceRelease(ofFamily, from: source, to: destinations, on: link)
        }
    }

    private func announceRelease(
        _ instances: [VRRPPlan.Instance], from source: IPAddress, to destinations: [IPAddress], on link: Link
    ) {
        for instance in instances {
            let advert = VRRPAdvertisement(
                vrid: instance.vrid, priority: 0, intervalCentiseconds: configuration.advertIntervalMilliseconds / 10,
                addresses: plan?.advertisedAddresses(of: instance, machine.adverts) ?? instance.addresses)
            do {
                try packets.send(advert, from: source, to: destinations, interface: link.name)
                metrics.releasesAnnounced.increment()
                logger.info(
                    "told the backups that the dead keepalived gave up its instance (priority 0)",
                    metadata: [
                        "vrid": "\(instance.vrid)", "to": "\(destinations.map(\.description).joined(separator: ","))",
                    ])
            } catch {
                logger.warning(
                    "could not send the priority-0 advert; the backups take over after three adverts",
                    metadata: ["vrid": "\(instance.vrid)", "error": "\(error)"])
            }
        }
    }
}
