"""The guard: strict token verification with an issuance ledger, at the edge (CONTRACT.md §5).

    from custodes.guard import load_jwks_file, Verifier
    from custodes.guard.ledger import open_ledger

    verifier = Verifier(load_jwks_file("jwks.json"), issuer="https://auth.example",
                        ledger=open_ledger("redis://127.0.0.1:6379/0"))
    verdict = verifier.verify(token)   # Verdict(ok, reason, kid, sub, jti, ...)

Light on purpose: importing it pulls in ``cryptography`` and nothing of the lake or the engines.
"""

from custodes.guard.cache import VerdictCache
from custodes.guard.keys import Key, KeySet, load_jwks, load_jwks_file
from custodes.guard.policy import Verdict, Verifier
from custodes.guard.reasons import REASONS

__all__ = ["Key", "KeySet", "REASONS", "VerdictCache", "Verdict", "Verifier", "load_jwks",
           "load_jwks_file"]
