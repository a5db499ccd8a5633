#!/usr/bin/env python3
"""Writes generated blocks into BENCHMARKS.md and RELIABILITY.md for
bench/publish-figures.sh. Nothing here measures anything: it only copies what a
command printed between two markers, under a stamp naming the command, the commit,
the time and the machine.

  publish_blocks.py output FILE NAME COMMAND_TEXT STAMP_FILE OUTPUT_FILE
      block NAME of FILE := the stamp + OUTPUT_FILE as a ```text block
  publish_blocks.py reliability FILE STAMP_FILE LOG_FILE...
      block "reliability figures" of FILE := the stamp + one table per test,
      rows = backends, columns = the k=v keys of its `[reliability]` lines

A block is the text between `<!-- BEGIN NAME -->` and `<!-- END NAME -->`; both
markers must already be in FILE (the documents place them), so a typo fails loudly
instead of appending a block somewhere.
"""

import re
import sys

LINE = re.compile(r"^\[reliability\] (\S+) (\S+): ?(.*)$")
PAIR = re.compile(r"(\S+?)=(\S*)")


def replace_block(path, name, body):
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        sys.exit(f"{path}: markers `{begin}` / `{end}` not found")
    text = text[: i + len(begin)] + "\n" + body.rstrip("\n") + "\n" + text[j:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def output_block(path, name, command, stamp_file, out_file):
    out = read(out_file).rstrip("\n")
    body = f"{read(stamp_file).rstrip()}\n- command: `{command}`\n\n```text\n{out}\n```\n"
    replace_block(path, name, body)


def reliability_block(path, stamp_file, logs):
    tests = {}  # test -> {backend -> [(k, v)]}
    order = []
    for log in logs:
        for line in read(log).splitlines():
            m = LINE.match(line.strip())
            if not m:
                continue
            backend, test, rest = m.groups()
            if test not in tests:
                tests[test] = {}
                order.append(test)
            # A test that prints twice for a backend (several runs): keep each line.
            key = backend
            n = 2
            while key in tests[test]:
                key = f"{backend} ({n})"
                n += 1
            tests[test][key] = PAIR.findall(rest)
    if not order:
        sys.exit("no `[reliability]` lines in the logs: did the tests run with --nocapture?")
    parts = [read(stamp_file).rstrip(), ""]
    for test in order:
        rows = tests[test]
        cols = []
        for pairs in rows.values():
            for k, _ in pairs:
                if k not in cols:
                    cols.append(k)
        parts.append(f"**`{test}`**\n")
        parts.append("| backend | " + " | ".join(cols) + " |")
        parts.append("|---|" + "---:|" * len(cols))
        for backend, pairs in rows.items():
            d = dict(pairs)
            cells = [d.get(k, "–").replace("|", "\\|").replace(",", ", ") for k in cols]
            parts.append(f"| {backend} | " + " | ".join(cells) + " |")
        parts.append("")
    replace_block(path, "reliability figures", "\n".join(parts))


def main(argv):
    if len(argv) >= 7 and argv[1] == "output":
        output_block(*argv[2:7])
    elif len(argv) >= 5 and argv[1] == "reliability":
        reliability_block(argv[2], argv[3], argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
