"""Writes the controller's function order for lld (scripts/layout).

Usage: layout-order.py BINARY LINK_MAP TRACE_DIR PROFILED > ORDER
- BINARY: the laid-out controller the traces ran (its symbols and the offset of its code);
- LINK_MAP: lld's -Map of that link: names defined in more than one object, one of them in an input section of 32 KiB
  or more (an archive member built without function sections), are left out, or lld would move all of that section
  forward for a name like `objectdestroyTm`;
- TRACE_DIR: pages.PID files of scripts/lib/layout-trace.c (page and instruction offsets of each first touch);
- PROFILED: the functions callgrind and perf saw, one per line.
Order: every function on a page that ran natively, in the order the pages were first touched (the largest trace
first), then the profiled functions not seen natively.
"""

import bisect
import collections
import glob
import os
import re
import struct
import subprocess
import sys


def code_delta(binary):
    """Virtual address minus file offset of the executable segment."""
    headers = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
    for line in headers.splitlines():
        if line.split()[:1] == ["LOAD"] and "R E" in line:
            fields = line.split()
            return int(fields[2], 16) - int(fields[1], 16)
    raise SystemExit("layout-order: no executable segment in " + binary)


def names_in_big_sections(link_map):
    names, size, in_text = set(), 0, False
    pattern = re.compile(r"^\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+(\d+) (.*)$")
    with open(link_map) as lines:
        for line in lines:
            match = pattern.match(line.rstrip("\n"))
            if not match:
                continue
            rest = match.group(5)
            indent = len(rest) - len(rest.lstrip(" "))
            if indent == 0:
                in_text = rest.strip() == ".text"
            elif in_text and indent == 8:
                size = int(match.group(3), 16)
            elif in_text and indent == 16 and size >= 32768:
                names.add(rest.strip())
    return names


def main():
    binary, link_map, trace_dir, profiled = sys.argv[1:5]
    listing = subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True, check=True)
    symbols = []
    for line in listing.stdout.splitlines():
        fields = line.split(None, 2)
        if len(fields) == 3 and fields[1] in "tTwW":
            symbols.append((int(fields[0], 16), fields[2].strip()))
    symbols.sort()
    addresses = [address for address, _ in symbols]
    defined = collections.Counter(name for _, name in symbols)
    big = names_in_big_sections(link_map)
    seen = {name for name, count in defined.items() if count > 1 and name in big}
    order = []

    def add(name):
        if name not in seen:
            seen.add(name)
            order.append(name)

    delta = code_delta(binary)
    traces = sorted(glob.glob(os.path.join(trace_dir, "pages.*")), key=os.path.getsize, reverse=True)
    for trace in traces:
        with open(trace, "rb") as file:
            data = file.read()
        for index in range(0, len(data) - 15, 16):
            page, ip = struct.unpack_from("<QQ", data, index)
            page += delta
            if ip:
                at = bisect.bisect_right(addresses, ip + delta) - 1
                if at >= 0:
                    add(symbols[at][1])
            at = max(bisect.bisect_right(addresses, page) - 1, 0)
            while at < len(symbols) and symbols[at][0] < page + 4096:
                add(symbols[at][1])
                at += 1
    traced = len(order)
    with open(profiled) as lines:
        for line in lines:
            if line.strip():
                add(line.strip())
    sys.stdout.write("\n".join(order) + "\n")
    print(f"layout-order: {traced} functions on pages that ran, {len(order)} in all, {len(seen) - len(order)} names "
          "left out (defined in several objects, one a large section)", file=sys.stderr)


main()
