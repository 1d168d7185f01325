"""Draws what the client saw in each failover case: one row per case, one mark per connection
attempt, by time from the fault. Usage: plot-failover.py TIMELINES.json OUTPUT.png"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

cases = json.load(open(sys.argv[1]))
names = sorted(cases)
figure, axis = plt.subplots(figsize=(10, 0.55 * len(names) + 1.6))
colours = {0: "#d62728", 1: "#1f77b4", 2: "#2ca02c"}
labels = {0: "no answer", 1: "answered by the old master (n1)", 2: "answered by the new master (n2)"}
seen = set()
for row, name in enumerate(names):
    for kind in (0, 1, 2):
        xs = [t for t, node in cases[name] if int(node) == kind]
        if not xs:
            continue
        axis.scatter(xs, [row] * len(xs), s=6, color=colours[kind], label=None if kind in seen else labels[kind])
        seen.add(kind)
axis.set_yticks(range(len(names)))
axis.set_yticklabels(names)
axis.axvline(0, color="black", linewidth=0.8)
axis.set_xlabel("ms from the fault (a connection attempt every 2 ms, 50 ms timeout)")
axis.set_title("Failover as the client saw it (first repetition of each case)")
axis.legend(loc="lower right", fontsize=8)
figure.tight_layout()
figure.savefig(sys.argv[2], dpi=110)
