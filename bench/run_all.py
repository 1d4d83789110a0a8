"""Run every bench/bench_*.py, one after the other, each in its own process, streaming its output.

    bench/run_all.py              # all of them (what `./studio.sh bench` runs)
    bench/run_all.py gallery      # only those whose name contains "gallery"

Exits non-zero if any benchmark fails (or none matched).
"""

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(word in s.stem for word in argv)]
    if not scripts:
        print(f"No benchmarks match {' '.join(argv)!r}.", file=sys.stderr)
        return 2
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        try:
            # Output is inherited, so it streams as the benchmark prints it.
            code = subprocess.run([sys.executable, str(script)], cwd=BENCH_DIR.parent).returncode
        except KeyboardInterrupt:
            print(f"== {script.name}: interrupted", flush=True)
            return 130
        seconds = time.perf_counter() - started
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"== {script.name}: {status} in {seconds:.0f} s\n", flush=True)
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"{len(failed)} of {len(scripts)} benchmarks failed: {', '.join(failed)}")
        return 1
    print(f"{len(scripts)} benchmark(s) ran, none failed.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
