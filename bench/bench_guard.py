"""Benchmark the guard; prints a Markdown section for BENCHMARKS.md.

    python bench/bench_guard.py [--seconds 3] [--skip-wrk] [--skip-redis]

Side by side, in one run (the machine is shared and noisy, so compare ratios):
1. uncached verification per core (one process, one thread) for ES256, EdDSA, RS256, HS256, with
   the full policy (header, signature, exp/iat/nbf, lifetime, iss, aud), distinct tokens so no
   cache helps; next to `openssl speed` for the same primitive, and next to the bare `cryptography`
   verify call (the ceiling of any Python verifier built on it);
2. the cached path;
3. the Redis ledger check (one MGET) against a bare PING round trip on the same connection, one
   by one and batched (check_many: one MGET for a batch);
4. `custodes guard serve` behind nginx auth_request, measured with wrk on loopback;
5. with ``--compare-with SRC`` (another checkout's ``src``, e.g. main's): verification with a
   ledger (memory, SQLite, Redis; the ledger compares sub, kid, iat and exp since v1.1) and the
   cost of writing one access event, for this tree and that one side by side, each in its own
   process, the two interleaved round by round (best of ``--rounds``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from custodes.guard import VerdictCache, Verifier, b64, load_jwks, mint
from custodes.guard.nginx import nginx_conf

ISSUER, AUDIENCE = "https://auth.example", "api"
LOAD_BEFORE = f"{os.getloadavg()[0]:.1f}"
OPENSSL = {"ES256": ("ecdsap256", r"256 bits ecdsa \(nistp256\)"),
           "EdDSA": ("ed25519", r"253 bits EdDSA \(Ed25519\)"),
           "RS256": ("rsa2048", r"rsa 2048 bits")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tokens_for(key, n: int, now: int) -> list[str]:
    return [key.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": f"cust-{i}", "jti": f"tok-{i}",
                      "sid": f"s-{i}", "iat": now - 5, "exp": now + 3600}) for i in range(n)]


def rate(fn, items, seconds: float, clock=time.process_time) -> float:
    """Calls per second of fn over items, cycling until ``seconds`` have passed on ``clock``.

    CPU-bound figures use this process's CPU time, as `openssl speed` divides by its CPU user
    time by default: "per core" even when other users share the machine. Network figures pass
    ``clock=time.perf_counter`` (wall time), since waiting is what they measure."""
    done, started = 0, clock()
    while True:
        for item in items:
            fn(item)
        done += len(items)
        elapsed = clock() - started
        if elapsed >= seconds:
            return done / elapsed


def openssl_speed(alg: str, seconds: int = 1) -> float:
    name, label = OPENSSL[alg]
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), name],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(label + r"\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    return float(m.group(2))


def raw_primitive(key, tokens: list[str], seconds: float) -> float:
    """The bare cryptography verify call on pre-decoded inputs: no parsing, no policy."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    pub = key.private.public_key()
    items = []
    for t in tokens[:2000]:
        h, p, s = t.split(".")
        sig = b64.decode(s)
        if key.alg == "ES256":
            sig = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        items.append(((h + "." + p).encode(), sig))
    if key.alg == "ES256":
        alg = ec.ECDSA(hashes.SHA256())
        return rate(lambda it: pub.verify(it[1], it[0], alg), items, seconds)
    if key.alg == "RS256":
        pad, h = padding.PKCS1v15(), hashes.SHA256()
        return rate(lambda it: pub.verify(it[1], it[0], pad, h), items, seconds)
    return rate(lambda it: pub.verify(it[1], it[0]), items, seconds)


def bench_verify(seconds: float, rounds: int) -> list[str]:
    """Each figure is the best of ``rounds`` one-second runs, the three contenders interleaved
    round by round, so that a burst of load from other users hits all of them alike."""
    now = int(time.time())
    keys = {alg: mint.generate(alg, f"k-{alg}") for alg in ("ES256", "EdDSA", "RS256", "HS256")}
    keyset = load_jwks(mint.jwks(*keys.values()))
    verifier = Verifier(keyset, issuer=ISSUER, audience=AUDIENCE)
    tokens = {alg: tokens_for(k, 20000 if alg == "HS256" else 4000, now) for alg, k in keys.items()}
    for alg in keys:
        assert all(verifier.verify(t).ok for t in tokens[alg][:10])
    best: dict[tuple[str, str], float] = {}

    def keep(name, alg, value):
        best[(name, alg)] = max(best.get((name, alg), 0.0), value)

    for _ in range(rounds):
        for alg in ("ES256", "EdDSA", "RS256"):
            keep("openssl", alg, openssl_speed(alg, 1))
            keep("ours", alg, rate(verifier.verify, tokens[alg], seconds))
            keep("bare", alg, raw_primitive(keys[alg], tokens[alg], seconds))
        keep("ours", "HS256", rate(verifier.verify, tokens["HS256"], seconds))
    lines = [f"Best of {rounds} interleaved runs of {seconds:g} CPU-second each (per CPU second, as "
             "`openssl speed` counts by default); load average before: "
             f"{LOAD_BEFORE}, after: {os.getloadavg()[0]:.1f}.\n",
             "| alg | custodes verify/s (1 core, uncached, full policy) | bare cryptography verify/s "
             "| `openssl speed` verify/s | custodes / openssl | custodes / bare |",
             "|---|---|---|---|---|---|"]
    for alg in ("ES256", "EdDSA", "RS256"):
        ours, bare, ossl = best[("ours", alg)], best[("bare", alg)], best[("openssl", alg)]
        lines.append(f"| {alg} | {ours:,.0f} | {bare:,.0f} | {ossl:,.0f} | "
                     f"{ours / ossl:.0%} | {ours / bare:.0%} |")
    lines.append(f"| HS256 | {best[('ours', 'HS256')]:,.0f} | | | | |")
    cached = Verifier(keyset, issuer=ISSUER, audience=AUDIENCE,
                      cache=VerdictCache(ttl=3600, max_entries=100_000))
    sample = tokens["ES256"][:1000]
    for t in sample:
        cached.verify(t)
    hits = max(rate(cached.verify, sample, seconds) for _ in range(rounds))
    lines.append(f"| cached (ES256 tokens, 1,000 distinct, cache hit) | {hits:,.0f} | | | | |")
    return lines


def start_redis(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def bench_redis(url: str, seconds: float, rounds: int) -> list[str]:
    from custodes.guard.ledger import Issued, open_ledger

    ledger = open_ledger(url)
    now = time.time()
    ledger.record_many([Issued(f"tok-{i}", f"cust-{i}", "k-ES256", now, now + 3600)
                        for i in range(10000)])
    items = [(f"tok-{i}", f"cust-{i}", "k-ES256", now, now + 3600) for i in range(10000)]
    assert ledger.check(*items[0]) is None
    client = ledger._client
    ping = check = 0.0
    for _ in range(rounds):  # interleaved, best of
        ping = max(ping, rate(lambda _: client.ping(), range(1000), seconds, time.perf_counter))
        check = max(check, rate(lambda it: ledger.check(*it), items[:1000], seconds,
                                  time.perf_counter))
    lines = ["| ledger operation (redis-server on loopback, one connection) | per second | µs each |",
             "|---|---|---|",
             f"| PING round trip (the floor) | {ping:,.0f} | {1e6 / ping:.1f} |",
             f"| check(jti, sub, kid, iat, exp): one MGET of 4 keys | {check:,.0f} | {1e6 / check:.1f} |"]
    for batch in (100, 1000):
        chunks = [items[i:i + batch] for i in range(0, 10000, batch)]
        per_batch = max(rate(ledger.check_many, chunks, seconds, time.perf_counter)
                        for _ in range(rounds))
        lines.append(f"| check_many, batches of {batch} (per token) | {per_batch * batch:,.0f} | "
                     f"{1e6 / (per_batch * batch):.1f} |")
    ledger.close()
    return lines


def run_wrk(url: str, token_script: Path, seconds: int, connections: int) -> dict:
    """One wrk run; its figures as wrk printed them."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(token_script), url], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = dict(re.findall(r"\s+(50|75|90|99)%\s+([\d.]+\w+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": pct.get("50"), "p90": pct.get("90"), "p99": pct.get("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "total": total}


def bench_edge(redis_url: str, tmp: Path, seconds: int) -> list[str]:
    from custodes.guard.ledger import Issued, open_ledger

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    key = mint.generate("ES256", "k-edge")
    (tmp / "jwks.json").write_text(json.dumps(mint.jwks(key)))
    now = int(time.time())
    tokens = tokens_for(key, 20000, now)
    ledger = open_ledger(redis_url)
    ledger.record_many([Issued(f"tok-{i}", f"cust-{i}", "k-edge", now - 5, now + 3600)
                        for i in range(20000)])
    ledger.close()
    guard_port, nginx_port, app_port = free_port(), free_port(), free_port()
    prefix = tmp / "nginx"
    prefix.mkdir()
    conf = nginx_conf(prefix, f"127.0.0.1:{nginx_port}", f"127.0.0.1:{guard_port}",
                      f"127.0.0.1:{app_port}")
    # The upstream app is nginx itself answering 200, so the figure is the guard's, not an app's.
    conf = conf.rstrip().rstrip("}") + (f"    server {{ listen 127.0.0.1:{app_port}; "
                                        "location / { return 200 \"ok\\n\"; } }\n}\n")
    (prefix / "nginx.conf").write_text(conf)

    def start_guard(http: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "custodes", "guard", "serve", "--keys", str(tmp / "jwks.json"),
             "--ledger", redis_url, "--issuer", ISSUER, "--audience", AUDIENCE,
             "--port", str(guard_port), "--events", str(tmp / "events"), "--http", http,
             "--workspace", str(tmp / "ws")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)
        return proc

    def stop(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)

    def script(sample: list[str]) -> Path:
        path = tmp / f"wrk{len(list(tmp.glob('wrk*.lua')))}.lua"
        path.write_text("tokens = {" + ",".join(f'"{t}"' for t in sample) + "}\n"
                        "i = 0\nrequest = function()\n  i = i + 1\n"
                        "  return wrk.format('GET', nil, {['Authorization'] = 'Bearer ' .. "
                        "tokens[(i % #tokens) + 1]})\nend\n")
        return path

    proc = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = ["| scenario (wrk -t1 -c16 on loopback; nginx 1 worker; guard 1 process; Redis ledger) "
             "| HTTP parser | requests/s | p50 | p90 | p99 | non-2xx |", "|---|---|---|---|---|---|---|"]
    via_nginx = f"http://127.0.0.1:{nginx_port}/api/v1/me/addresses"
    direct = f"http://127.0.0.1:{guard_port}/auth"
    forged = key.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "jti": "forged", "iat": now,
                       "exp": now + 600})
    runs = [("httptools", "nginx -> guard, one token repeated (cache hits)", via_nginx, tokens[:1]),
            ("httptools", "nginx -> guard, 20,000 distinct tokens in turn (first pass uncached)",
             via_nginx, tokens),
            ("httptools", "nginx -> guard, forged token: valid signature, never issued (401)",
             via_nginx, [forged]),
            ("httptools", "guard /auth directly, one token repeated", direct, tokens[:1]),
            ("h11", "nginx -> guard, one token repeated (cache hits)", via_nginx, tokens[:1]),
            ("h11", "guard /auth directly, one token repeated", direct, tokens[:1])]
    guard, current = None, None
    try:
        for http, name, url, sample in runs:
            if http != current:
                if guard is not None:
                    stop(guard)
                guard, current = start_guard(http), http
            r = run_wrk(url, script(sample), seconds, 16)
            lines.append(f"| {name} | {http} | {r['rps']:,.0f} | {r['p50']} | {r['p90']} "
                         f"| {r['p99']} | {r['non2xx']} of {r['total']} |")
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=10)
        if guard is not None:
            stop(guard)
    events = sum(1 for f in (tmp / "events").glob("access-*.jsonl") for _ in f.open())
    lines.append(f"\nAccess events written during the wrk runs: {events:,}.")
    return lines


def ledger_rates(seconds: float, redis_url: str | None) -> dict[str, float]:
    """One tree's figures (run in a child process with that tree on PYTHONPATH): verify() per
    token, uncached, with each ledger; verify_many() with Redis; one access event written.
    Only API that both trees share is used."""
    from custodes.guard.events import AccessLog
    from custodes.guard.ledger import Issued, open_ledger

    now = int(time.time())
    keys = {alg: mint.generate(alg, f"k-{alg}") for alg in ("HS256", "ES256")}
    keyset = load_jwks(mint.jwks(*keys.values()))
    count = {"HS256": 20000, "ES256": 4000}
    tokens = {alg: [k.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": f"cust-{i}", "jti": f"{alg}-{i}",
                            "sid": f"s-{i}", "iat": now - 5, "exp": now + 3600})
                    for i in range(count[alg])] for alg, k in keys.items()}
    issued = [Issued(f"{alg}-{i}", f"cust-{i}", f"k-{alg}", now - 5, now + 3600)
              for alg in keys for i in range(count[alg])]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        urls = {"memory": "memory:", "sqlite": f"sqlite:///{d}/ledger.db"}
        if redis_url:
            import redis

            redis.Redis.from_url(redis_url).flushdb()
            urls["redis"] = redis_url
        for name, url in urls.items():
            ledger = open_ledger(url)
            ledger.record_many(issued)
            verifier = Verifier(keyset, issuer=ISSUER, audience=AUDIENCE, ledger=ledger)
            for alg in keys:
                assert verifier.verify(tokens[alg][0]).reason == "ok", (name, alg)
                clock = time.perf_counter if name == "redis" else time.process_time
                out[f"verify, {name} ledger, {alg}"] = rate(verifier.verify, tokens[alg], seconds,
                                                            clock)
            if name == "redis":
                batches = [tokens["HS256"][i:i + 1000] for i in range(0, 20000, 1000)]
                out["verify_many (1,000 a batch), redis ledger, HS256"] = 1000 * rate(
                    verifier.verify_many, batches, seconds, time.perf_counter)
            ledger.close()
        verdict = Verifier(keyset, issuer=ISSUER, audience=AUDIENCE).verify(tokens["HS256"][0])
        log = AccessLog(Path(d) / "events")
        request = dict(method="GET", route="/api/v1/me/addresses", src_ip="203.0.113.7",
                       status=200, user_agent="app/1", request_id="r-1")
        if hasattr(log, "decision"):
            write = lambda _: log.decision(verdict, **request)  # noqa: E731
        else:
            from custodes.guard.events import access_event

            write = lambda _: log.write(access_event(verdict, **request))  # noqa: E731
        out["one access event written (signed token, 200)"] = rate(write, range(1000), seconds)
        log.close()
    return out


def bench_compare(other_src: str, redis_url: str | None, seconds: float, rounds: int) -> list[str]:
    """This tree against ``other_src``, each figure the best of ``rounds`` child runs, the
    trees alternating (and which goes first too) so that the machine's load falls on both
    alike."""
    here = str(Path(__file__).resolve().parents[1] / "src")
    best: dict[str, dict[str, float]] = {here: {}, other_src: {}}
    for r in range(rounds):
        for src in (here, other_src) if r % 2 == 0 else (other_src, here):
            env = dict(os.environ, PYTHONPATH=src)
            args = [sys.executable, __file__, "--child-ledger", "--seconds", str(seconds)]
            if redis_url:
                args += ["--redis-url", redis_url]
            got = json.loads(subprocess.run(args, env=env, capture_output=True, text=True,
                                            check=True).stdout)
            for name, value in got.items():
                best[src][name] = max(best[src].get(name, 0.0), value)
    lines = [f"Side by side with `{other_src}`, best of {rounds} interleaved child runs of "
             f"{seconds:g} s per figure (CPU time per core; Redis figures wall time); load "
             f"average before: {LOAD_BEFORE}, after: {os.getloadavg()[0]:.1f}.\n",
             "| figure (uncached, 20,000 HS256 / 4,000 ES256 distinct issued tokens) | this tree "
             "per second | other tree per second | this / other |", "|---|---|---|---|"]
    for name, ours in best[here].items():
        theirs = best[other_src].get(name)
        lines.append(f"| {name} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.1%} |"
                     if theirs else f"| {name} | {ours:,.0f} | | |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--skip-wrk", action="store_true")
    ap.add_argument("--skip-redis", action="store_true")
    ap.add_argument("--skip-verify", action="store_true", help="skip the per-core verify figures")
    ap.add_argument("--compare-with", metavar="SRC", default=None,
                    help="another checkout's src directory (e.g. /work/main/src) to compare with")
    ap.add_argument("--child-ledger", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--redis-url", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_ledger:  # one tree's side of --compare-with, as JSON on stdout
        print(json.dumps(ledger_rates(args.seconds, args.redis_url)))
        return
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    ssl_cli = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    out = [f"\n## Guard (bench/bench_guard.py), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n",
           f"Machine: {os.cpu_count()} cores (shared), {platform.processor() or platform.machine()}, "
           f"Python {platform.python_version()}; `openssl speed`: {ssl_cli}; cryptography links "
           f"{rust_openssl.openssl_version_text()}. Command: `python bench/bench_guard.py "
           f"--seconds {args.seconds:g} --rounds {args.rounds}`.\n"]
    if not args.skip_verify:
        out += bench_verify(args.seconds, args.rounds)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_redis or not args.skip_wrk or args.compare_with:
            redis_proc, redis_url = start_redis(tmp)
            try:
                if args.compare_with:
                    out.append("")
                    out += bench_compare(args.compare_with, None if args.skip_redis else redis_url,
                                         args.seconds, args.rounds)
                if not args.skip_redis:
                    out.append("")
                    out += bench_redis(redis_url, args.seconds, args.rounds)
                if not args.skip_wrk:
                    out.append("")
                    out += bench_edge(redis_url, tmp, args.wrk_seconds)
            finally:
                redis_proc.terminate()
                redis_proc.wait()
    print("\n".join(out))


if __name__ == "__main__":
    main()
