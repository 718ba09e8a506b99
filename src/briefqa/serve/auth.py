"""Logins for the web UI and REST API: a file of users with scrypt password hashes.

The file (``BRIEFQA_AUTH_FILE``) holds one ``user:hash`` per line; blank lines and
lines starting with ``#`` are ignored. ``briefqa hash-password`` prints a hash. scrypt
(from the standard library) is memory-hard, so a stolen file is slow to crack, and
:func:`verify_password` compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
import time
from pathlib import Path

from ..errors import ConfigError
from ..schema import ANONYMOUS

# Interactive-login cost recommended for scrypt (RFC 7914 §2): 16 MiB, ~50 ms here.
_N, _R, _P = 2**14, 8, 1
_USER = re.compile(r"^[\w.@+-]{1,64}$")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A self-describing hash: ``scrypt$N$r$p$salt$key`` (base64)."""
    if not password:
        raise ValueError("the password is empty")
    salt = salt if salt is not None else os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed``; malformed hashes never match."""
    try:
        scheme, n, r, p, salt, key = hashed.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=128 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def load_users(path: Path) -> dict[str, str]:
    """``{user: hash}`` from an auth file.

    Raises:
        ConfigError: the file is missing, unreadable, malformed or lists no user. A
            server must not start open when its operator asked for logins.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the auth file {path}: {exc}") from None
    users: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not _USER.match(user) or not hashed.startswith("scrypt$"):
            raise ConfigError(
                f"{path}, line {number}: expected 'user:scrypt$…' "
                "(make the hash with `briefqa hash-password`)"
            )
        if user == ANONYMOUS:
            raise ConfigError(
                f"{path}, line {number}: the user name {ANONYMOUS!r} is reserved: the "
                "conversations kept while logins were off belong to it"
            )
        users[user] = hashed
    if not users:
        raise ConfigError(f"the auth file {path} lists no users")
    return users


_REMEMBER_S = 300.0  # how long a passed login is remembered
_REMEMBERED = 4096  # logins remembered at most before expired ones are dropped


class Users:
    """The users allowed in, checked with :meth:`check`."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)
        # A made-up hash, so an unknown user costs as much time as a wrong password.
        self._decoy = hash_password("decoy", salt=b"briefqa-decoy-salt")
        # Logins that passed lately, by a digest of user and password: an API client
        # sends its password with every request, and scrypt costs ~50 ms of CPU each
        # time. Failures are never remembered, so guessing stays as slow as scrypt.
        self._passed: dict[bytes, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> Users:
        return cls(load_users(path))

    def check(self, user: str, password: str) -> bool:
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        now = time.monotonic()
        with self._lock:
            if self._passed.get(key, 0.0) > now:
                return True
        hashed = self._users.get(user)
        ok = verify_password(password, hashed or self._decoy) and hashed is not None
        if ok:
            with self._lock:
                if len(self._passed) >= _REMEMBERED:
                    self._passed = {k: t for k, t in self._passed.items() if t > now}
                self._passed[key] = now + _REMEMBER_S
        return ok


def credentials(header: str) -> tuple[str | None, str]:
    """(user, password) from ``Bearer user:password`` or HTTP Basic; (None, "") if
    neither is there or well formed."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, ""
    elif scheme.lower() != "bearer":
        return None, ""
    user, sep, password = value.partition(":")
    return (user, password) if sep and user else (None, "")
