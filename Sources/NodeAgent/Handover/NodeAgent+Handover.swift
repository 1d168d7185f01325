import CoreMetrics
import Foundation
import IPAM
import Keepalived
import Logging
import NodeNetwork

extension NodeAgent {
    /// conntrackd runs with the VIPs of this plan and earlier ones left out of its sync
    /// (`ConnectionSync.configuration`).
    func syncConnections() async {
        guard let connections, !machine.stopping, let link, let plan = machine.plan,
            let address = ownAddresses.sorted().first(where: { $0.family == .ipv4 })
        else { return }
        let text = await connections.configuration(interface: link.name, address: address, vips: plan.addresses)
        do {
            guard let child = try await connections.ensure(text) else { return }
            jobQueue.yield(.watchSync(child))
            logger.info(
                "conntrackd started", metadata: ["interface": "\(link.name)", "vips": "\(plan.addresses.count)"])
            if await !connections.requestResync() {
                logger.warning(
                    "conntrackd did not take a resync request; connections it has not seen yet are not kept",
                    metadata: ["log": "\(connections.paths.log)"])
            }
        } catch {
            metrics.syncRestarts.increment()
            logger.error(
                "cannot start conntrackd; connections are not kept across moves",
                metadata: [
                    "error": "\(error)",
                    "fix": "install conntrackd in the agent's image, or run without --keep-connections",
                ])
        }
    }

    /// This node became master of `addresses`: its own transit entries of their flows go (they would clash), and so
    /// do their committed entries (an earlier commit for another VIP may have written them with a clashing port while
    /// keepalived took this one: a reset in the cluster test's rollout once the guard lifted), then what conntrackd
    /// learnt from the previous holder is committed; the mid-flow guard then lets them through. Flows that started
    /// here while the VIP waited are this node's own and stay, as do those of a VIP taken back within its release
    /// grace (this node's own flows, served again).
    func adoptConnections(_ addresses: [IPAddress]) async {
        guard let connections else { return }
        let handover = configuration.handover.map { VIPFirewall.Handover(masqueradeBit: $0.masqueradeBit) }
        for address in addresses {
            await connections.delete(.source, address)
            if let handover, !machine.releasing.contains(address) {
                await connections.deleteMarked(to: address, mark: handover.masqueradeMark, unless: handover.ownFlowMark)
            }
        }
        let committed = await connections.commit()
        // Flows kube-proxy did not masquerade (Local Services') cannot be taken over, and a committed closed one would
        // send a new connection that reuses its client port to the old holder's pod (no answer: a timeout). They go:
        // before the guard lifts for the VIPs taken over now, after it for the others held here (the commit wrote
        // theirs too), and so do another node's Local flows. The guards hold only masqueraded flows: the later
        // deletions keep no packet waiting, however many VIPs this node holds.
        let mark = handover?.masqueradeMark
        let held = machine.unmasqueradedToClean(afterCommitFor: addresses)
        if let mark {
            for address in addresses { await connections.deleteClosed(to: address, unmarked: mark) }
        }
        // The guard lifts now: packets of the flows taken over wait on it until here.
        await handle(.connectionsAdopted(addresses))
        if let mark {
            await dropEntriesHeldElsewhere(mark: mark)
            for address in held where !addresses.contains(address) {
                await connections.deleteClosed(to: address, unmarked: mark)
            }
            await dropOtherNodesLocalFlows(to: held, mark: mark)
        }
        if let failed = await committed == nil ? connections.share() : committed {
            metrics.commitErrors.increment()
            logger.warning(
                "could not take over the connections of these VIPs; they may be reset",
                metadata: [
                    "vips": "\(addresses.map(\.description).joined(separator: ","))", "failed": "\(failed)",
                    "log": "\(connections.paths.log)",
                ])
        } else {
            metrics.commits.increment()
        }
    }

    /// A commit puts every VIP's entries into this node's table, also those of VIPs another node holds. Where this
    /// node runs the pod of such a flow, the entry clashes with its own transit entry of the flow, gets another port,
    /// and when the VIP later moves here it takes the client's packets past the guard to the pod under that port: a
    /// reset (the cluster test's rollouts). Before they are read back and shared, they go; the VIP's next holder
    /// commits them again.
    private func dropEntriesHeldElsewhere(mark: UInt32) async {
        guard let connections, !machine.heldElsewhere.isEmpty,
            let marked = await connections.markedDestinations(mark)
        else { return }
        for address in marked.sorted() where machine.heldElsewhere.contains(address) {
            await connections.deleteMarked(to: address, mark: mark)
        }
    }

    /// A client's Local flow leads to a pod on the node that made it; one leading to another node's pod came from a
    /// commit, in any state. Left, a new connection reusing its client port followed it there and timed out: the
    /// entry of a connection lost at an earlier move lives for days and came back with every takeover (two client
    /// ports failed in rollout after rollout in the cluster test). A pod here reaching the VIP may be sent to
    /// another node's pod without a masquerade: its flows stay.
    /// The routes are read once for the flows of every VIP: each read copies the kernel's route table.
    private func dropOtherNodesLocalFlows(to held: some Sequence<IPAddress>, mark: UInt32) async {
        guard let connections, let link else { return }
        var flowsByVIP: [(IPAddress, Set<ConnectionSync.FlowEnds>)] = []
        for address in held {
            if let flows = await connections.unmasqueradedFlows(to: address, mark: mark), !flows.isEmpty {
                flowsByVIP.append((address, flows))
            }
        }
        let ends = Set(flowsByVIP.flatMap { $0.1.flatMap { [$0.client, $0.pod] } })
        guard !ends.isEmpty, let routes = try? addressing.routes(toward: ends) else { return }
        for (address, flows) in flowsByVIP {
            let filters = ConnectionSync.othersLocalFlows(flows) { routes[$0]?.reachesALocalPod(besides: link) }
            for filter in filters { await connections.deleteUnmasqueraded(filter, to: address, mark: mark) }
        }
    }

    /// `releaseGrace` after giving `addresses` up: this node's entries of their flows go, and so does the guard. Not
    /// those of a VIP taken back meanwhile: keepalived killed and restarted here can win it back within the grace.
    func releaseConnections(_ addresses: [IPAddress]) async {
        guard let connections else { return }
        for address in machine.releasable(addresses) { await connections.delete(.destination, address) }
        await handle(.connectionsReleased(addresses))
    }
}
