import Foundation
import IPAM
import ProcessSupervision

/// conntrackd (NOTRACK over multicast on the node's interface) and the `conntrack` tool: the I/O of connection
/// handover (`VIPFirewall.Handover`). Only this type runs them.
actor ConnectionSync {
    struct Paths: Sendable {
        var conntrackd: String
        var conntrack: String
        var directory: String
        var config: String { directory + "/conntrackd.conf" }
        var socket: String { directory + "/conntrackd.ctl" }
        var lock: String { directory + "/conntrackd.lock" }
        var log: String { directory + "/conntrackd.log" }
        /// Written by the agent (conntrackd has no pid file of its own): how a later agent finds an orphan.
        var pidFile: String { directory + "/conntrackd.pid" }
    }

    let paths: Paths
    let networkNamespace: String?
    private let clock: any Clock<Duration>
    private var process: ChildProcess?
    /// The configuration the running conntrackd read.
    private(set) var running: String?
    /// The configuration the latest `ensure` asked for (calls interleave while a stop is awaited).
    private var wanted: String?
    /// Every VIP of every plan since this agent started: conntrackd's filter is fixed at start, and a VIP that goes
    /// away need not restart it (a restart empties its caches until the other nodes answer the resync).
    private var ignored: Set<IPAddress> = []

    init(paths: Paths, networkNamespace: String?, clock: any Clock<Duration>) {
        self.paths = paths
        self.networkNamespace = networkNamespace
        self.clock = clock
    }

    /// The multicast socket buffers (at most `net.core.{r,w}mem_max` unless conntrackd forces them): a takeover's
    /// bulk update of a few thousand entries overran the default (~200 KB) and lost messages in the cluster test.
    static let socketBuffer = 4 << 20
    /// The kernel's event socket, and how far conntrackd may double it: at the default, a commit of 3,600 entries
    /// beside 200 new flows a second overran it ("We are likely to be losing events" in the cluster test's
    /// conntrackd.log), and entries whose events were lost linger in the other nodes' caches.
    static let netlinkBuffer = 4 << 20
    static let netlinkBufferMax = 16 << 20

    /// conntrackd.conf: every node sends its TCP entries to the multicast group on `interface` and keeps the
    /// others' in its external cache. NOTRACK, not FTFW: FTFW tracks one sequence for every sender of the group and
    /// drops a message numbered below the last one seen, so with three nodes each dropped thousands of the others'
    /// (`conntrackd -s`: "Packets before") and a takeover missed flows minutes old. Entries whose original or reply
    /// source is a VIP are left out: a node's transit entry for a flow another node translated (`snat ... to` the VIP)
    /// clashes with the holder's own.
    /// conntrackd cannot change its filter at run time, so a new VIP means a restart (`ensure`).
    static func configuration(interface: String, address: IPAddress, vips: [IPAddress], paths: Paths) -> String {
        let ignored =
            ["IPv4_address 127.0.0.1", "IPv6_address ::1"]
            + vips.sorted().map { "\($0.family == .ipv4 ? "IPv4" : "IPv6")_address \($0)" }
        return """
            Sync {
            \tMode NOTRACK {
            \t\tStartupResync on
            \t}
            \tMulticast {
            \t\tIPv4_address 225.0.0.50
            \t\tGroup 3780
            \t\tIPv4_interface \(address)
            \t\tInterface \(interface)
            \t\tSndSocketBuffer \(Self.socketBuffer)
            \t\tRcvSocketBuffer \(Self.socketBuffer)
            \t\tChecksum on
            \t}
            }
            General {
            \tHashSize 8192
            \tHashLimit 262144
            \tNetlinkBufferSize \(Self.netlinkBuffer)
            \tNetlinkBufferSizeMaxGrowth \(Self.netlinkBufferMax)
            \tLogFile \(paths.log)
            \tSyslog off
            \tLockFile \(paths.lock)
            \tUNIX { Path \(paths.socket) }
            \tFilter From Userspace {
            \t\tProtocol Accept { TCP }
            \t\tAddress Ignore {
            \(ignored.map { "\t\t\t" + $0 }.joined(separator: "\n"))
            \t\t}
            \t}
            }

            """
    }

    /// The configuration for the plan's `vips`, leaving out every VIP seen before too: it changes (and conntrackd
    /// restarts) only when a VIP is new, the node's interface or address changed.
    func configuration(interface: String, address: IPAddress, vips: [IPAddress]) -> String {
        ignored.formUnion(vips)
        return Self.configuration(interface: interface, address: address, vips: Array(ignored), paths: paths)
    }

    private func command(_ arguments: [String]) -> [String] {
        networkNamespace.map { ["ip", "netns", "exec", $0] + arguments } ?? arguments
    }

    /// conntrackd runs with `configuration`: started, or restarted when it changed. Returns the process to watch
    /// when one was started.
    func ensure(_ configuration: String) async throws -> ChildProcess? {
        wanted = configuration
        if configuration == running, process?.hasExited() == nil { return nil }
        // Another call may start one while this one awaits a stop: stopped too (else it runs on, unowned), and the
        // latest configuration is the one started. Nothing is awaited from the loop's end to `process = child`.
        await stop()
        let configuration = wanted ?? configuration
        try configuration.write(toFile: paths.config, atomically: true, encoding: .utf8)
        // A conntrackd that was killed leaves its lock file and socket, which stop the next one.
        for path in [paths.lock, paths.socket] { try? FileManager.default.removeItem(atPath: path) }
        let child = try ChildProcess.spawn(
            command([paths.conntrackd, "-C", paths.config]), outputPath: paths.directory + "/conntrackd.out",
            newProcessGroup: true)
        process = child
        running = configuration
        try? "\(child.pid)\n".write(toFile: paths.pidFile, atomically: true, encoding: .utf8)
        return child
    }

    /// A conntrackd left by an agent that was killed outright (it runs in a process group of its own) still holds
    /// the control socket: stopped before this agent starts its own.
    func stopOrphan() async {
        guard process == nil, let orphan = OrphanProcess.find(pidFile: paths.pidFile, marker: paths.config) else {
            return
        }
        await orphan.stop(on: clock)
    }

    /// Asks the other nodes for everything they track (`conntrackd -n`): a restarted conntrackd's external cache is
    /// empty, and a long-lived connection sends no new event. Retried while its control socket comes up.
    func requestResync() async -> Bool {
        guard await listening() else { return false }
        return await run([paths.conntrackd, "-C", paths.config, "-n"])
    }

    /// Whether conntrackd runs and its control socket is up, waiting up to five seconds (it may be starting, or being
    /// restarted for a new VIP set).
    private func listening() async -> Bool {
        for _ in 0..<50 {
            if process != nil, FileManager.default.fileExists(atPath: paths.socket) { return true }
            try? await clock.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Whether `child` is the conntrackd this actor runs (not one it replaced or stopped).
    func isCurrent(_ child: ChildProcess) -> Bool { process === child }

    /// Puts what conntrackd learnt from the other nodes into this node's table (`conntrackd -c`). nil when done,
    /// else what failed. A second try commits again what the first did, which fails only as "File exists" and
    /// `-c` does not count.
    func commit() async -> String? {
        guard await listening() else { return "conntrackd is not running (its control socket is missing)" }
        return await control("-c") ? nil : "conntrackd -c (commit)"
    }

    /// Tells the other nodes what this one now tracks (`-R` reads the table back into conntrackd's cache, `-B`
    /// sends that): entries a commit made raise no event, and the next move (back, in a rolling update) needs them
    /// there. nil when done, else what failed.
    func share() async -> String? {
        for (flag, what) in [("-R", "read the table back"), ("-B", "send it to the other nodes")] {
            guard await control(flag) else { return "conntrackd \(flag) (\(what))" }
        }
        return nil
    }

    /// `conntrackd FLAG` on the running daemon, tried twice: a restart for a new VIP set (several at start-up) can
    /// take its control socket away mid-command. false when both tries failed or it never listened.
    private func control(_ flag: String) async -> Bool {
        for _ in 0..<2 {
            guard await listening() else { return false }
            if await run([paths.conntrackd, "-C", paths.config, flag]) { return true }
        }
        return false
    }

    /// Deletes this node's entries whose original source (`.source`) or destination is `address`.
    func delete(_ direction: Direction, _ address: IPAddress) async {
        let family = Self.family(of: address)
        // Exit status 1 with "0 flow entries" when there were none: not an error.
        _ = await run([paths.conntrack, "-D", "-f", family, direction.flag, "\(address)"])
    }

    /// Deletes the closed TCP entries (TIME_WAIT, CLOSE) to `address` whose conntrack mark lacks `mark`. Only closed
    /// ones: a handshake under way here has an unmarked entry too, and would lose its translation mid-way.
    func deleteClosed(to address: IPAddress, unmarked mark: UInt32) async {
        let family = Self.family(of: address)
        for state in ["TIME_WAIT", "CLOSE"] {
            _ = await run([
                paths.conntrack, "-D", "-f", family, "-p", "tcp", "--state", state, "--orig-dst", "\(address)",
                "--mark", Self.markFilter(0, mask: mark),
            ])
        }
    }

    /// The original destinations of this node's TCP entries whose conntrack mark has `mark` (flows translated for
    /// handover, here or by the node that committed them); nil when `conntrack -L` failed.
    func markedDestinations(_ mark: UInt32) async -> Set<IPAddress>? {
        var found: Set<IPAddress> = []
        for family in ["ipv4", "ipv6"] {
            let listing = [
                paths.conntrack, "-L", "-f", family, "-p", "tcp", "--mark", Self.markFilter(mark, mask: mark),
            ]
            guard let text = await output(listing) else { return nil }
            for line in text.split(separator: "\n") {
                // The first `dst=` is the original direction's.
                guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("dst=") }),
                    let address = try? IPAddress(field.dropFirst(4))
                else { continue }
                found.insert(address)
            }
        }
        return found
    }

    /// The client and the pod kube-proxy chose (original and reply source) of this node's TCP entries to `address`
    /// whose conntrack mark lacks `mark` (flows not masqueraded: Local Services'); nil when `conntrack -L` failed.
    func unmasqueradedFlows(to address: IPAddress, mark: UInt32) async -> Set<FlowEnds>? {
        let family = Self.family(of: address)
        let listing = [
            paths.conntrack, "-L", "-f", family, "-p", "tcp", "--orig-dst", "\(address)", "--mark",
            Self.markFilter(0, mask: mark),
        ]
        return await output(listing).map(Self.flowEnds)
    }

    struct FlowEnds: Hashable, Sendable {
        var client: IPAddress
        var pod: IPAddress
    }

    /// The two `src=` of each `conntrack -L` line: the original direction's source, then the reply direction's.
    static func flowEnds(in listing: String) -> Set<FlowEnds> {
        var found: Set<FlowEnds> = []
        for line in listing.split(separator: "\n") {
            let sources = line.split(separator: " ").filter { $0.hasPrefix("src=") }
            guard sources.count >= 2, let client = try? IPAddress(sources[0].dropFirst(4)),
                let pod = try? IPAddress(sources[1].dropFirst(4))
            else { continue }
            found.insert(FlowEnds(client: client, pod: pod))
        }
        return found
    }

    /// Of `flows`, those another node made (a client's flow to a pod that is not on this node, as `isLocal` says from
    /// the routes), as deletions: by pod alone where no client of that pod is local, else by client and pod. A pod
    /// here reaching a Local VIP can be sent to another node's pod without a masquerade: those flows stay, as do any
    /// whose ends have no route.
    static func othersLocalFlows(_ flows: Set<FlowEnds>, isLocal: (IPAddress) -> Bool?) -> [FlowFilter] {
        var filters: [FlowFilter] = []
        for (pod, ends) in Dictionary(grouping: flows, by: \.pod).sorted(by: { $0.key < $1.key })
        where isLocal(pod) == false {
            let clients = ends.filter { isLocal($0.client) == false }.map(\.client).sorted()
            if clients.count == ends.count {
                filters.append(FlowFilter(client: nil, pod: pod))
            } else {
                filters += clients.map { FlowFilter(client: $0, pod: pod) }
            }
        }
        return filters
    }

    /// Entries answered by `pod`, from `client` or from anyone (nil).
    struct FlowFilter: Hashable, Sendable {
        var client: IPAddress?
        var pod: IPAddress
    }

    /// Deletes the TCP entries to `address` that `filter` names and whose conntrack mark lacks `mark`.
    func deleteUnmasqueraded(_ filter: FlowFilter, to address: IPAddress, mark: UInt32) async {
        let family = Self.family(of: address)
        let client = filter.client.map { ["--orig-src", "\($0)"] } ?? []
        _ = await run(
            [paths.conntrack, "-D", "-f", family, "-p", "tcp"] + client + [
                "--orig-dst", "\(address)", "--reply-src", "\(filter.pod)", "--mark", Self.markFilter(0, mask: mark),
            ])
    }

    /// Deletes the TCP entries to `address` whose conntrack mark has `mark`, and not `unless` (0: no exception).
    func deleteMarked(to address: IPAddress, mark: UInt32, unless: UInt32 = 0) async {
        let family = Self.family(of: address)
        _ = await run([
            paths.conntrack, "-D", "-f", family, "-p", "tcp", "--orig-dst", "\(address)", "--mark",
            Self.markFilter(mark, mask: mark | unless),
        ])
    }

    /// conntrack's `-f` for the address's family.
    private static func family(of address: IPAddress) -> String { address.family == .ipv4 ? "ipv4" : "ipv6" }

    /// conntrack's `--mark value/mask`: entries whose mark, masked, equals the value.
    static func markFilter(_ value: UInt32, mask: UInt32) -> String {
        "0x" + String(value, radix: 16) + "/0x" + String(mask, radix: 16)
    }

    enum Direction: Sendable {
        case source, destination
        var flag: String { self == .source ? "--orig-src" : "--orig-dst" }
    }

    private func run(_ arguments: [String]) async -> Bool {
        await output(arguments) != nil
    }

    /// What the command printed (stdout and stderr), or nil when it could not run or exited non-zero.
    private func output(_ arguments: [String]) async -> String? {
        let output = paths.directory + "/conntrack-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        guard let child = try? ChildProcess.spawn(command(arguments), outputPath: output),
            await child.exitStatus() == 0
        else { return nil }
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    func stop() async {
        while let child = process {
            process = nil
            running = nil
            await child.stop(grace: .seconds(2), killGroup: true, clock: clock)
        }
    }
}
