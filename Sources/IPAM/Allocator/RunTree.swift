/// Maximal runs of allocated addresses `[lo, hi]`, keyed by `lo`, in an array-backed treap:
/// expected O(log n) lookup, insert and remove, memory proportional to the number of runs.
@usableFromInline
struct RunTree: Sendable {
    @usableFromInline
    struct Node: Sendable {
        @usableFromInline
        var lo: UInt128
        @usableFromInline
        var hi: UInt128
        @usableFromInline
        var left: Int32
        @usableFromInline
        var right: Int32
        @usableFromInline
        var priority: UInt32

        @inlinable
        init(lo: UInt128, hi: UInt128, left: Int32, right: Int32, priority: UInt32) {
            (self.lo, self.hi, self.left, self.right, self.priority) = (lo, hi, left, right, priority)
        }
    }

    @usableFromInline
    var nodes: [Node] = []
    @usableFromInline
    var freeList: [Int32] = []
    @usableFromInline
    var root: Int32 = -1
    @usableFromInline
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    @usableFromInline
    var count = 0

    @inlinable
    init() {}

    /// Builds the treap from runs sorted by `lo` in O(n), with the classic Cartesian-tree stack.
    @inlinable
    init(sortedRuns: [(lo: UInt128, hi: UInt128)]) {
        nodes.reserveCapacity(sortedRuns.count)
        var spine: [Int32] = []
        for run in sortedRuns {
            let index = Int32(nodes.count)
            nodes.append(Node(lo: run.lo, hi: run.hi, left: -1, right: -1, priority: nextPriority()))
            var lastPopped: Int32 = -1
            while let top = spine.last, nodes[Int(top)].priority < nodes[Int(index)].priority {
                lastPopped = spine.removeLast()
            }
            nodes[Int(index)].left = lastPopped
            if let top = spine.last { nodes[Int(top)].right = index }
            spine.append(index)
        }
        root = spine.first ?? -1
        count = sortedRuns.count
    }

    @inlinable
    mutating func nextPriority() -> UInt32 {
        seed ^= seed << 13
        seed ^= seed >> 7
        seed ^= seed << 17
        return UInt32(truncatingIfNeeded: seed >> 32)
    }

    @inlinable
    subscript(index: Int32) -> Node { nodes[Int(index)] }

    /// Changes a run's bounds; callers keep the key order intact (no other run's `lo` lies between).
    @inlinable
    mutating func update(_ index: Int32, lo: UInt128, hi: UInt128) {
        nodes[Int(index)].lo = lo
        nodes[Int(index)].hi = hi
    }

    /// The run with the greatest `lo <= value`.
    @inlinable
    func floor(_ value: UInt128) -> Int32? {
        var current = root
        var best: Int32 = -1
        while current >= 0 {
            let node = nodes[Int(current)]
            if node.lo <= value {
                best = current
                current = node.right
            } else {
                current = node.left
            }
        }
        return best >= 0 ? best : nil
    }

    /// The run whose `lo` is exactly `value`.
    @inlinable
    func starting(at value: UInt128) -> Int32? {
        var current = root
        while current >= 0 {
            let node = nodes[Int(current)]
            if node.lo == value { return current }
            current = value < node.lo ? node.left : node.right
        }
        return nil
    }

    @inlinable
    mutating func insert(lo: UInt128, hi: UInt128) {
        let node = Node(lo: lo, hi: hi, left: -1, right: -1, priority: nextPriority())
        let index: Int32
        if let reused = freeList.popLast() {
            index = reused
            nodes[Int(index)] = node
        } else {
            index = Int32(nodes.count)
            nodes.append(node)
        }
        let (left, right) = split(root, lo)
        root = merge(merge(left, index), right)
        count += 1
    }

    @inlinable
    mutating func remove(lo: UInt128) {
        let (left, rest) = split(root, lo)
        let (middle, right) = split(rest, lo + 1)
        precondition(middle >= 0, "RunTree.remove of a missing run")
        freeList.append(middle)
        root = merge(left, right)
        count -= 1
    }

    /// Splits into runs with `lo < key` and runs with `lo >= key`.
    @inlinable
    mutating func split(_ tree: Int32, _ key: UInt128) -> (Int32, Int32) {
        if tree < 0 { return (-1, -1) }
        if nodes[Int(tree)].lo < key {
            let (left, right) = split(nodes[Int(tree)].right, key)
            nodes[Int(tree)].right = left
            return (tree, right)
        } else {
            let (left, right) = split(nodes[Int(tree)].left, key)
            nodes[Int(tree)].left = right
            return (left, tree)
        }
    }

    /// Joins two treaps where every key of `a` is below every key of `b`.
    @inlinable
    mutating func merge(_ a: Int32, _ b: Int32) -> Int32 {
        if a < 0 { return b }
        if b < 0 { return a }
        if nodes[Int(a)].priority > nodes[Int(b)].priority {
            nodes[Int(a)].right = merge(nodes[Int(a)].right, b)
            return a
        } else {
            nodes[Int(b)].left = merge(a, nodes[Int(b)].left)
            return b
        }
    }

    /// Runs in ascending order.
    @inlinable
    func inOrder() -> [(lo: UInt128, hi: UInt128)] {
        var result: [(lo: UInt128, hi: UInt128)] = []
        var stack: [Int32] = []
        var current = root
        while current >= 0 || !stack.isEmpty {
            while current >= 0 {
                stack.append(current)
                current = nodes[Int(current)].left
            }
            let index = stack.removeLast()
            result.append((nodes[Int(index)].lo, nodes[Int(index)].hi))
            current = nodes[Int(index)].right
        }
        return result
    }
}
