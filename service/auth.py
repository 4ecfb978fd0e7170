"""API keys: kept only as SHA-256 hashes, checked in constant time, one key one owner.

Keys come from settings (`RADLABEL_API_KEYS`) or a key file, either as plain keys or as
`sha256:<hex>` of one, so a deployment can keep plain keys out of its configuration. A request
without a key gets 401, a wrong key 403; a key's owner id (a prefix of its hash) is what later
endpoints (batch jobs) use to keep one client's work from another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from service.errors import ApiError

PREFIX = "sha256:"


def hash_key(key: str) -> str:
    """`sha256:<hex>` of a plain API key."""
    return PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random API key (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def _normalise(entry: str) -> bytes:
    entry = entry.strip()
    if entry.startswith(PREFIX):
        digest = entry[len(PREFIX) :].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("an API key hash must be sha256: followed by 64 hex digits")
        return bytes.fromhex(digest)
    return hashlib.sha256(entry.encode("utf-8")).digest()


@dataclass(frozen=True)
class KeyRing:
    """The accepted key hashes."""

    hashes: tuple[bytes, ...]

    @classmethod
    def load(cls, keys: list[str], key_file: Path | None = None) -> KeyRing:
        """Hash plain keys, keep given hashes; blank lines and `#` comments in the file are skipped.

        Raises:
            ValueError: a malformed hash entry.
        """
        entries = list(keys)
        if key_file is not None:
            lines = key_file.read_text(encoding="utf-8").splitlines()
            entries += [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        return cls(tuple(_normalise(e) for e in entries))

    @property
    def enabled(self) -> bool:
        """True when requests must carry a key."""
        return bool(self.hashes)

    def owner(self, authorization: str | None) -> str:
        """Check an `Authorization` header and return the caller's owner id.

        Returns:
            The first 16 hex digits of the key's hash, or "anonymous" when keys are off.

        Raises:
            ApiError: 401 without a bearer key, 403 for an unknown key.
        """
        if not self.enabled:
            return "anonymous"
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "an API key is required: send `Authorization: Bearer <key>`")
        digest = hashlib.sha256(token.strip().encode("utf-8")).digest()
        # compare against every key, whatever matches first, so timing says nothing
        match = False
        for known in self.hashes:
            match |= hmac.compare_digest(digest, known)
        if not match:
            raise ApiError(403, "forbidden", "the API key is not valid")
        return digest.hex()[:16]
