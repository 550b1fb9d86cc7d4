"""A cache of recently verified HTTP Basic credentials, so each request does not pay scrypt.

Design note. A v1 client sends its password with every request; checking it costs a slow KDF
(by design, :mod:`dagcore.api.users`). A verified (username, password) pair is remembered as an
HMAC under a key that lives only in this process (never the password, nor a plain hash of it
that could be attacked offline), together with the stored hash it matched. A later request is
accepted from the cache only while the user's stored hash is still that one, so a changed
password or a deleted user takes effect at once; entries also expire after ``ttl`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

__all__ = ["CredentialCache"]

_DEFAULT_SIZE: Final = 1024
_DEFAULT_TTL: Final = 300.0


class CredentialCache:
    """Bounded, thread-safe memory of verified credentials (see the module note)."""

    def __init__(self, size: int = _DEFAULT_SIZE, ttl: float = _DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._key = os.urandom(32)
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    def _digest(self, username: str, password: str) -> bytes:
        message = username.encode("utf-8") + b"\0" + password.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def verified(self, username: str, password: str, stored_hash: str) -> bool:
        """Whether this pair was verified against ``stored_hash`` less than ``ttl`` ago."""
        digest = self._digest(username, password)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return False
            matched_hash, expires = entry
            if self._clock() >= expires or not hmac.compare_digest(matched_hash, stored_hash):
                del self._entries[digest]
                return False
            self._entries.move_to_end(digest)
            return True

    def remember(self, username: str, password: str, stored_hash: str) -> None:
        """Record that the pair matched ``stored_hash``."""
        digest = self._digest(username, password)
        with self._lock:
            self._entries[digest] = (stored_hash, self._clock() + self._ttl)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
