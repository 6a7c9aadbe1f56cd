"""What the breach documents cost (issue #16: "a few seconds for the demo's two PDFs"). Run by
hand; figures go to BENCHMARKS.md.

Over a workspace `custodes demo` has filled, for its largest incident (most accounts), medians of
--reps, each in a fresh process so no font cache or import is shared between checkouts:

1. gathering the facts once (scope, who cannot be reached, offboarding plan): ``report.build``;
   and with the affected people's rows and contacts, which only the customer notice needs;
2. rendering each document's PDF from them: the PIPC report (ko), the GDPR notification (en), the
   customer notice's sample (ko) and the annex (en); and the notice's mail-merge CSV;
3. with ``--old CHECKOUT``: main's ``report.build`` and its one fpdf2 PDF, side by side.

    python bench/bench_reports.py --workspace /tmp/custodes-demo [--old /work/main] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

NEW = """
import json, sys, time
from custodes.workspace import Workspace
from custodes.engine import connect
from custodes.respond import report, documents
ws = Workspace.open(sys.argv[1]); incident = sys.argv[2]
out = {}
t = time.perf_counter()
with connect(ws) as engine:
    built = report.build(engine, ws, incident)
out["build"] = time.perf_counter() - t
t = time.perf_counter()
with connect(ws) as engine:
    built = report.build(engine, ws, incident, people=True)
out["build, with people (notice)"] = time.perf_counter() - t
import custodes.respond.pdf as pdf; pdf._weasyprint()   # the import, once, outside the timings
for doc, lang in (("pipc", "ko"), ("gdpr33", "en"), ("notice", "ko"), ("annex", "en")):
    t = time.perf_counter()
    data = documents.render(built, doc, lang, "pdf")
    out[f"{doc}-{lang}.pdf"] = time.perf_counter() - t
    out[f"{doc}-{lang}.pdf bytes"] = len(data)
t = time.perf_counter()
out["notice-ko.csv"] = (len(documents.merge_csv(built, "ko")), time.perf_counter() - t)[1]
print(json.dumps(out))
"""

OLD = """
import json, sys, time
from custodes.workspace import Workspace
from custodes.engine import connect
from custodes.respond import report
ws = Workspace.open(sys.argv[1]); incident = sys.argv[2]
out = {}
t = time.perf_counter()
with connect(ws) as engine:
    built = report.build(engine, ws, incident)
out["build"] = time.perf_counter() - t
t = time.perf_counter()
data = report.render(built, "pdf")
out["report.pdf"] = time.perf_counter() - t
out["report.pdf bytes"] = len(data)
print(json.dumps(out))
"""


def largest_incident(workspace: str, src: str) -> tuple[str, int]:
    code = ("import json,sys; from custodes.workspace import Workspace; from custodes.detect.store import load_incidents;"
            "print(json.dumps([(i['incident_id'], i['severity']) for i in load_incidents(Workspace.open(sys.argv[1]))]))")
    incidents = json.loads(run(code, src, workspace))
    serious = [i for i, sev in incidents if sev in ("high", "critical")]
    sizes = {}
    for incident in serious:
        scope = ("import json,sys; from custodes.workspace import Workspace; from custodes.engine import connect;"
                 "from custodes.respond import Selector, scope; ws=Workspace.open(sys.argv[1]);"
                 "e=connect(ws); print(scope(e, ws, Selector('incident', sys.argv[2])).accounts)")
        sizes[incident] = int(run(scope, src, workspace, incident))
    best = max(sizes, key=sizes.get)
    return best, sizes[best]


def run(code: str, src: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=src)
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout.strip().splitlines()[-1]


def medians(code: str, src: str, workspace: str, incident: str, reps: int) -> dict:
    runs = [json.loads(run(code, src, workspace, incident)) for _ in range(reps)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--old", default=None, help="a checkout of main to time beside this one")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    incident, accounts = largest_incident(args.workspace, here)
    print(f"incident {incident}: {accounts:,} accounts; load average {os.getloadavg()[0]:.1f}; medians of {args.reps}")
    new = medians(NEW, here, args.workspace, incident, args.reps)
    for key, value in new.items():
        print(f"  this checkout  {key:<22} {value:>10.2f}" if "bytes" not in key else
              f"  this checkout  {key:<22} {value / 1024:>8.0f} KiB")
    if args.old:
        old = medians(OLD, str(Path(args.old) / "src"), args.workspace, incident, args.reps)
        for key, value in old.items():
            print(f"  main           {key:<22} {value:>10.2f}" if "bytes" not in key else
                  f"  main           {key:<22} {value / 1024:>8.0f} KiB")


if __name__ == "__main__":
    main()
