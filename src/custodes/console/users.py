"""Console users: name, role and scrypt hash in ``WORKSPACE/console/users.json`` (0600).

Re-read whenever the file changes, so that removing a user or changing a role takes effect on
that user's very next request, even in a running console.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from custodes.console import passwords
from custodes.console.roles import ROLES
from custodes.errors import CustodesError, UsageError
from custodes.workspace import Workspace, atomic_write_bytes, private_dir

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    #: changes whenever the password is set: sessions opened before a reset no longer match it
    stamp: str = field(default="", compare=False, repr=False)


def _user(name: str, rec: dict) -> User:
    return User(name, rec["role"], hashlib.sha256(rec["hash"].encode()).hexdigest()[:32])


def console_dir(workspace: Workspace) -> Path:
    return private_dir(workspace.root / "console")


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UsageError(f"user name {name!r}: use 1-64 of a-z 0-9 . _ @ - (starting with a letter or digit)")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    return role


class UserStore:
    def __init__(self, path: Path, log2_n: int = passwords.DEFAULT_LOG2_N):
        self.path = path
        self.log2_n = log2_n
        self._lock = threading.Lock()
        self._cache: dict[str, dict] = {}
        self._stamp: tuple[int, int] | None = None

    @classmethod
    def of(cls, workspace: Workspace, **kwargs) -> UserStore:
        return cls(console_dir(workspace) / "users.json", **kwargs)

    # Reading ------------------------------------------------------------------------------
    def _records(self) -> dict[str, dict]:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._cache, self._stamp = {}, None
                return {}
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                self._cache = self._parse()
                self._stamp = stamp
            return self._cache

    def _parse(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
            users = data["users"]
            if not isinstance(users, dict):
                raise TypeError("users is not an object")
            for name, rec in users.items():
                check_name(name)
                check_role(rec["role"])
                if not isinstance(rec["hash"], str):
                    raise TypeError(f"user {name}: hash is not a string")
        except (ValueError, KeyError, TypeError, UsageError) as exc:
            raise CustodesError(f"{self.path}: not a valid console user file ({exc})") from None
        return users

    def names(self) -> list[str]:
        return sorted(self._records())

    def list(self) -> list[User]:
        return [_user(n, r) for n, r in sorted(self._records().items())]

    def get(self, name: str) -> User | None:
        rec = self._records().get(name)
        return _user(name, rec) if rec else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when name and password match; None otherwise, in about the same time."""
        rec = self._records().get(name)
        stored = rec["hash"] if rec else passwords.DUMMY_HASH
        ok = passwords.verify_password(password, stored)
        return _user(name, rec) if (ok and rec) else None

    # Writing ------------------------------------------------------------------------------
    def _save(self, users: dict[str, dict]) -> None:
        body = json.dumps({"version": 1, "users": users}, indent=2, sort_keys=True).encode()
        atomic_write_bytes(self.path, body)

    def add(self, name: str, role: str, password: str, replace: bool = False) -> User:
        check_name(name)
        check_role(role)
        try:
            passwords.check_policy(password)
        except ValueError as exc:
            raise CustodesError(str(exc)) from None
        users = dict(self._records())
        if name in users and not replace:
            raise CustodesError(f"user {name!r} exists; use --replace to set a new password or role")
        users[name] = {
            "role": role,
            "hash": passwords.hash_password(password, log2_n=self.log2_n),
            "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self._save(users)
        return _user(name, users[name])

    def add_generated(self, name: str, role: str) -> str:
        """Add (or replace) ``name`` with a fresh random password and return it, once: for the
        demo, which prints it. The console itself never has a default password."""
        password = secrets.token_urlsafe(18)
        self.add(name, role, password, replace=True)
        return password

    def remove(self, name: str) -> None:
        users = dict(self._records())
        if name not in users:
            raise CustodesError(f"no console user {name!r}")
        del users[name]
        self._save(users)
