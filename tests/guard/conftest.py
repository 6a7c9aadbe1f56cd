"""Guard fixtures: keys generated per session (never committed), token minting, a real
redis-server on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from custodes.guard import Verifier, load_jwks, mint

# A fixed "now" so every time check is exact: the session's start, to the second, since ledger
# records expire by the wall clock (at exp + 60 s) in every backend.
NOW = float(int(time.time()))
#: seconds the test tokens live past NOW: long enough for a slow full run of the suite
LIFETIME = 6 * 3600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, mint.SigningKey]:
    """The authorization server's keys, by alg; kid is ``k-<alg>``."""
    return {alg: mint.generate(alg, f"k-{alg}") for alg in ("ES256", "RS256", "EdDSA", "HS256",
                                                            "PS256", "ES384")}


@pytest.fixture(scope="session")
def attacker_keys() -> dict[str, mint.SigningKey]:
    """Keys the attacker made: same kids as the real ones, different material."""
    return {alg: mint.generate(alg, f"k-{alg}") for alg in ("ES256", "RS256", "EdDSA", "HS256")}


@pytest.fixture(scope="session")
def keyset(signing_keys):
    return load_jwks(mint.jwks(*signing_keys.values()))


def claims(**overrides) -> dict:
    base = {"iss": "https://auth.example", "aud": "api", "sub": "cust-1", "jti": "tok-1",
            "iat": int(NOW) - 10, "exp": int(NOW) + LIFETIME, "sid": "s-1"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def verifier(keyset):
    def make(**kwargs) -> Verifier:
        kwargs.setdefault("issuer", "https://auth.example")
        kwargs.setdefault("audience", "api")
        return Verifier(keyset, **kwargs)
    return make


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free loopback port, for the whole session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def fresh_redis_url(redis_url):
    """The session's Redis, emptied: each test gets its own clean ledger."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url
