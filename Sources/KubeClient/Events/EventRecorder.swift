import CoreMetrics
public import Foundation
public import Logging
import Synchronization

/// Records core/v1 Events and aggregates repeats the way kube's recorder does: the same
/// (object, type, reason, message) within ten minutes bumps `count` on one Event instead of
/// creating another, and repeats within a second are folded into the next write.
public actor EventRecorder {
    public enum EventType: String, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    /// An Event already written. Its name is the object's name and `suffix` in hex, in the object's namespace:
    /// rebuilt from the next post of the same key rather than kept (4,096 entries of two heap strings each).
    private struct Entry {
        var suffix: UInt64
        var count: Int
        var written: Int
        var lastWrite: Duration
    }

    private let client: any KubernetesAPI
    private let component: String
    private let host: String?
    private let logger: Logger
    private var entries: [Key: Entry] = [:]

    /// 128 bits of hash of what an Event aggregates on (object, namespace, type, reason, message): the text
    /// itself made up most of this cache (4,096 messages of up to 1 KiB each).
    private struct Key: Hashable {
        let first: Int
        let second: Int

        init(_ parts: String...) {
            var first = Hasher()
            var second = Hasher()
            second.combine(0x6b6c_6232)
            for part in parts {
                first.combine(part)
                second.combine(part)
            }
            (self.first, self.second) = (first.finalize(), second.finalize())
        }
    }
    private var lastPrune = Duration.zero
    /// Time on the injected clock: the aggregation window, the write interval and the deferral are measured on it.
    private let elapsed: @Sendable () -> Duration
    private let clock: any Clock<Duration>
    private let aggregationWindow: Duration = .seconds(600)
    /// Bounds memory in a burst of thousands of Services (client-go keeps 4,096 too).
    static let maximumEntries = 4096
    private let minimumWriteInterval: Duration

    private struct Pending: Sendable {
        var postedAt: Date
        var object: Target
        var type: EventType
        var reason: String
        var message: String
    }

    /// The involved object as plain strings: thousands of queued events in a burst cost a few
    /// hundred bytes each instead of a dictionary tree each.
    private struct Target: Sendable {
        let apiVersion, kind, namespace, name, uid, resourceVersion: String?

        init(_ reference: ObjectReference) {
            (apiVersion, kind, namespace, name, uid, resourceVersion) =
                (
                    reference.apiVersion, reference.kind, reference.namespace, reference.name, reference.uid,
                    reference.resourceVersion
                )
        }

        var reference: ObjectReference {
            var reference = ObjectReference()
            (
                reference.apiVersion, reference.kind, reference.namespace, reference.name, reference.uid,
                reference.resourceVersion
            ) =
                (apiVersion, kind, namespace, name, uid, resourceVersion)
            return reference
        }
    }

    /// `post` queues here and one writer drains it, in order, like client-go's broadcaster: events
    /// never take more than one request slot from the reconciles that produce them.
    private nonisolated let queue: AsyncStream<Pending>.Continuation
    /// Free places in the queue as of the last post; shared with the writer task.
    private nonisolated let freeSlots = QueueSlots()
    private nonisolated let dropped = Counter(label: "keepalived_lb_events_dropped_total")

    private final class QueueSlots: Sendable {
        let free = Atomic<Int>(EventRecorder.maximumQueued)
    }

    /// `yieldingTo`: while it is busy (the owner is writing what matters more, such as addresses in a
    /// burst) a write waits, for at most `maximumDeferral`, and only while the queue is less than half full,
    /// so deferring does not itself push events out of the queue. Deferred events keep the time they were
    /// posted. Nothing is written until `run()` runs.
    public init(
        client: any KubernetesAPI, component: String, host: String? = nil, minimumWriteInterval: Duration = .seconds(1),
        yieldingTo busy: BusySignal? = nil, maximumDeferral: Duration = .seconds(2),
        clock: some Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "events")
    ) {
        elapsed = stopwatch(on: clock)
        self.clock = clock
        self.client = client
        self.component = component
        self.host = host
        self.minimumWriteInterval = minimumWriteInterval
        self.logger = logger
        self.busy = busy
        self.maximumDeferral = maximumDeferral
        // Events are best effort: under a flood the oldest queued ones are dropped.
        (pending, queue) = AsyncStream.makeStream(
            of: Pending.self, bufferingPolicy: .bufferingNewest(Self.maximumQueued))
    }

    private let busy: BusySignal?
    private let maximumDeferral: Duration
    private let pending: AsyncStream<Pending>

    /// Writes what `post` queued, in order, until cancelled (one writer, like client-go's broadcaster).
    public func run() async {
        for await event in pending {
            if let busy, freeSlots.free.load(ordering: .relaxed) > Self.maximumQueued / 2 {
                await busy.waitUntilIdle(atMost: maximumDeferral, clock: clock)
            }
            await write(
                event.object.reference, type: event.type, reason: event.reason, message: event.message,
                at: event.postedAt)
        }
    }

    /// client-go queues 1,000; two events per Service in a burst of 1,000 should all arrive.
    static let maximumQueued = 2500

    deinit {
        queue.finish()
    }

    /// Records without waiting: reconcilers do not spend API round trips on events.
    public nonisolated func post(_ object: ObjectReference, type: EventType, reason: String, message: String) {
        // Messages quote what users wrote: escaped and bounded before they are stored anywhere.
        let message = SafeText.escaped(message, limit: SafeText.eventMessageLimit)
        let reason = SafeText.escaped(reason, limit: 128)
        switch queue.yield(
            Pending(postedAt: Date(), object: Target(object), type: type, reason: reason, message: message))
        {
        case .enqueued(let remaining): freeSlots.free.store(remaining, ordering: .relaxed)
        case .dropped:
            freeSlots.free.store(0, ordering: .relaxed)
            dropped.increment()
        case .terminated: break
        @unknown default: break
        }
    }

    /// Best effort, like every Kubernetes recorder: a failure is logged, never thrown at the reconciler.
    public func record(
        _ object: ObjectReference, type: EventType, reason: String, message: String, at time: Date = Date()
    ) async {
        await write(
            object, type: type, reason: SafeText.escaped(reason, limit: 128),
            message: SafeText.escaped(message, limit: SafeText.eventMessageLimit), at: time)
    }

    /// Text already escaped and bounded (by `post` or `record`; once: a second pass would cut the
    /// "more bytes" note off and add another).
    private func write(_ object: ObjectReference, type: EventType, reason: String, message: String, at time: Date) async
    {
        let namespace = object.namespace ?? "default"
        let key = Key(object.uid ?? object.name ?? "", namespace, type.rawValue, reason, message)
        let now = elapsed()
        let timestamp = KubeTime.format(time)
        if now - lastPrune > .seconds(60) || entries.count > Self.maximumEntries {
            // Pruning walks every entry: once a minute (or when full), not on every event.
            entries = entries.filter { now - $0.value.lastWrite < aggregationWindow }
            if entries.count > Self.maximumEntries {
                // Like client-go's bounded cache: the oldest go; a repeat of one of them makes a new Event.
                let keep = entries.sorted { $0.value.lastWrite > $1.value.lastWrite }.prefix(Self.maximumEntries / 2)
                entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
            lastPrune = now
        }
        if let entry = entries[key], now - entry.lastWrite >= aggregationWindow { entries[key] = nil }

        if var entry = entries[key] {
            entry.count += 1
            if now - entry.lastWrite < minimumWriteInterval {
                entries[key] = entry
                return
            }
            let patch: JSONValue = ["count": .int(Int64(entry.count)), "lastTimestamp": .string(timestamp)]
            do {
                _ = try await client.patch(
                    Event.self, namespace: namespace, name: Self.eventName(object, suffix: entry.suffix), .merge(patch))
                entry.written = entry.count
                entry.lastWrite = now
                entries[key] = entry
                return
            } catch let error where error.code == .notFound {
                entries[key] = nil
            } catch {
                logger.warning("could not update event", metadata: ["reason": "\(reason)", "error": "\(error)"])
                entries[key] = entry
                return
            }
        }

        var event = Event()
        let nanos = UInt64(time.timeIntervalSince1970 * 1e9)
        event.metadata = ObjectMeta(name: Self.eventName(object, suffix: nanos), namespace: namespace)
        event.involvedObject = object
        event.type = type.rawValue
        event.reason = reason
        event.message = message
        event.count = 1
        event.firstTimestamp = timestamp
        event.lastTimestamp = timestamp
        event.sourceComponent = component
        if let host { event.json["source"] = ["component": .string(component), "host": .string(host)] }
        event.reportingComponent = component
        event.reportingInstance = host ?? component
        do {
            _ = try await client.create(event, namespace: namespace)
            entries[key] = Entry(suffix: nanos, count: 1, written: 1, lastWrite: now)
        } catch {
            logger.warning(
                "could not record event",
                metadata: ["reason": "\(reason)", "object": "\(namespace)/\(object.name ?? "")", "error": "\(error)"])
        }
    }

    /// Like kube's recorder: the object's name and the first post's time in nanoseconds, in hex.
    private static func eventName(_ object: ObjectReference, suffix: UInt64) -> String {
        "\(object.name ?? "object").\(String(suffix, radix: 16))"
    }
}
