"""What checking custodes.yaml costs a command at start: `custodes status` on an empty
workspace, without custodes.yaml and with one that holds detect thresholds, alerts, sources and
respond, for two source trees side by side (alternated, median of N).

    python bench/bench_config.py --base /tmp/base17/src --new src --repeat 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
detect: {source_min_accounts: 60}
alerts: {sinks: [{type: file, path: /tmp/custodes-bench-alerts.jsonl}]}
sources: [{dataset: access, path: /tmp/custodes-bench-none}]
respond: {organization: Example}
"""


def seconds(src: str, workspace: Path) -> float:
    env = {**os.environ, "PYTHONPATH": src}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "custodes", "status", "--workspace", str(workspace)],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="src directory of the code to compare with")
    parser.add_argument("--new", default="src")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare, configured = Path(tmp) / "bare", Path(tmp) / "configured"
        bare.mkdir(mode=0o700)
        configured.mkdir(mode=0o700)
        (configured / "custodes.yaml").write_text(CONFIG)
        for name, ws in (("no custodes.yaml", bare), ("detect, alerts, sources, respond", configured)):
            times: dict[str, list[float]] = {"base": [], "new": []}
            for _ in range(args.repeat):
                for label, src in (("base", args.base), ("new", args.new)):
                    times[label].append(seconds(str(Path(src).resolve()), ws))
            base, new = statistics.median(times["base"]), statistics.median(times["new"])
            print(f"{name:<36} base {base:5.2f} s   new {new:5.2f} s   {new / base:4.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
