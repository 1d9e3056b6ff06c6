"""Each rewritten question of ``questions.py`` as it is asked now beside its former text
(``questions.BEFORE``), in process on one store, interleaved: what the rewriting gains, with
the former text as the baseline of the same run, and whether the two still answer alike.

    python benchmarks/bench_rewrites.py --store WORKDIR/store_100000 \
        --questions "text search across fields"

The store is one that ``bench_queries.py`` left in its working folder (``store_N``), or any
store the server made (``STORE_DIR``). Without ``--questions``, every rewritten question: some
former texts take minutes at 100,000 records ("structures with no partner" about 80 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_queries import _answer, _evaluate  # noqa: E402
from questions import BEFORE, QUESTIONS  # noqa: E402


def compare(store: ox.Store, name: str, runs: int) -> tuple[float, float, bool]:
    """(median before, median now, same answer) over ``runs`` interleaved pairs, after one
    unmeasured evaluation of each."""
    texts = (BEFORE[name], QUESTIONS[name])
    answers = [_answer(*_evaluate(store, text)[1:]) for text in texts]
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for text, kept in zip(texts, times):
            kept.append(_evaluate(store, text)[0])
    return statistics.median(times[0]), statistics.median(times[1]), answers[0] == answers[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="a store folder (read only)")
    parser.add_argument("--questions", nargs="+", choices=sorted(BEFORE), default=sorted(BEFORE))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    try:
        store = ox.Store.read_only(str(args.store))
    except OSError as err:
        raise SystemExit(f"{args.store}: not a store that can be opened: {err}") from None
    print(f"  rewritten questions in process on {args.store}, median of {args.runs} "
          "interleaved runs, in ms")
    print(f"  {'question':<34}{'as before':>12}{'now':>12}{'change':>9}  answers")
    for name in args.questions:
        before, now, same = compare(store, name, args.runs)
        print(f"  {name:<34}{before * 1000:12.1f}{now * 1000:12.1f}{now / before - 1:+9.0%}  "
              + ("same" if same else "DIFFER"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
