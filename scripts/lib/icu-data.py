#!/usr/bin/env python3
"""Rewrites an ICU common data package (the CmnD format, little-endian) keeping only what the product can use.

Usage: icu-data.py SOURCE.dat TARGET.dat

Foundation links ICU with its whole data package (34 MB for ICU 76): the locale data of every language, legacy
codepage converters and word dictionaries for Chinese, Japanese and South-East Asian scripts. Nothing in this
product formats or collates text for a human locale; it logs and writes in English. Kept: the root and English
locales in every tree, and every item that is not locale data (time zones, normalization, properties, break
rules, collation root). Dropped: other locales, `.cnv` codepages, `.dict` dictionaries, transliteration.
Like Node.js's `small-icu`. Items keep their bytes; only the table of contents is rewritten.
"""
import re
import struct
import sys

LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]*)*$")
KEPT_LOCALES = re.compile(r"^(root|en|en_US|en_US_POSIX|en_001|pool|res_index)$")


def kept(name: str) -> bool:
    parts = name.split("/")[1:]  # the first part is the package name, icudt76l
    stem, _, extension = parts[-1].rpartition(".")
    if extension in ("cnv", "dict") or parts[0] == "translit":
        return False
    if extension == "res" and LOCALE.match(stem):
        return bool(KEPT_LOCALES.match(stem))
    return True


def main(source: str, target: str) -> None:
    data = open(source, "rb").read()
    header_size, magic1, magic2 = struct.unpack_from("<HBB", data, 0)
    if (magic1, magic2) != (0xDA, 0x27) or data[12:16] != b"CmnD" or data[8] != 0:
        sys.exit(f"icu-data.py: {source} is not a little-endian ICU common data package (CmnD)")
    toc = header_size
    count = struct.unpack_from("<I", data, toc)[0]
    entries = [struct.unpack_from("<II", data, toc + 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_offset, data_offset) in enumerate(entries):
        end = data.index(b"\0", toc + name_offset)
        name = data[toc + name_offset:end].decode("ascii")
        stop = entries[i + 1][1] if i + 1 < count else len(data) - toc
        items.append((name, data[toc + data_offset:toc + stop]))
    chosen = [(name, body) for name, body in items if kept(name)]
    if not any(name.endswith("/root.res") for name, _ in chosen):
        sys.exit(f"icu-data.py: {source} has no root locale; refusing to write a package without one")
    # Entries stay in the source's (sorted) order: ICU finds items by binary search.
    names = b"".join(name.encode("ascii") + b"\0" for name, _ in chosen)
    table_size = 4 + 8 * len(chosen)
    data_start = (table_size + len(names) + 15) & ~15
    table = bytearray(struct.pack("<I", len(chosen)))
    blobs = bytearray()
    name_offset = table_size
    for name, body in chosen:
        table += struct.pack("<II", name_offset, data_start + len(blobs))
        name_offset += len(name) + 1
        blobs += body
        blobs += b"\0" * (-len(blobs) % 16)
    padding = b"\0" * (data_start - table_size - len(names))
    with open(target, "wb") as out:
        out.write(data[:header_size] + bytes(table) + names + padding + bytes(blobs))
    print(f"icu-data.py: kept {len(chosen)} of {count} items, {len(data)} -> {data_start + len(blobs) + toc} bytes",
          file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
