"""Summarise a py-spy profile: where the samples went, by function, own and inclusive.

Record with py-spy's collapsed-stack ("raw") format, then read it here::

    py-spy record --format raw --rate 200 -o var/bench/profile-ingest.txt -- \\
        .venv/bin/python -m service.cli ingest ../shared/corpus --index /tmp/p
    python -m eval.bench.profile var/bench/profile-ingest.txt --top 15

Each line of the raw format is ``frame;frame;...;leaf count`` with frames
written ``function (file:line)``.  Lines are dropped so that a function is named
by its file and name only; ``--match`` keeps the samples whose stack passes
through a frame containing the given text (one request path of a server, say).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.paths import PROJECT_ROOT

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")
_PACKAGES = re.compile(r".*/(?:site-packages|lib/python3\.\d+)/")


@dataclass(frozen=True, slots=True)
class Profile:
    samples: int
    own: Counter[str]
    inclusive: Counter[str]


def frame_name(frame: str) -> str:
    """``function (path:line)`` as ``short/path.py:function``."""
    found = _FRAME.match(frame.strip())
    if found is None:
        return frame.strip()
    path = _PACKAGES.sub("", found["file"]).removeprefix(f"{PROJECT_ROOT}/")
    return f"{path}:{found['function']}"


def read(lines: Iterable[str], match: str | None = None) -> Profile:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [frame_name(f) for f in stack.split(";") if f]
        if match is not None and not any(match in f for f in frames):
            continue
        count = int(count_text)
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return Profile(total, own, inclusive)


def markdown(profile: Profile, top: int) -> str:
    lines = [
        f"{profile.samples} samples",
        "",
        "| own % | inclusive % | function |",
        "|---|---|---|",
    ]
    for name, count in profile.own.most_common(top):
        share = 100 * count / profile.samples
        whole = 100 * profile.inclusive[name] / profile.samples
        lines.append(f"| {share:.1f} | {whole:.1f} | `{name}` |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("profile", type=Path, help="py-spy --format raw output")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--match", help="keep stacks through a frame containing this text")
    args = parser.parse_args(argv)
    with args.profile.open(encoding="utf-8") as lines:
        profile = read(lines, args.match)
    if not profile.samples:
        parser.error(
            f"no samples in {args.profile}" + (f" matching {args.match!r}" * bool(args.match))
        )
    print(markdown(profile, args.top))


if __name__ == "__main__":
    main()
