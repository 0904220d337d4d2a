"""The backup file: a manifest and the snapshot's bytes, encrypted in numbered frames.

Layout: ``MAGIC``, a 16-byte salt, then frames of a 4-byte length and a
Fernet token. The Fernet key is derived from the operator's backup key with
scrypt and the salt, so the key itself is never stored anywhere. Each
frame's plaintext starts with its number and its kind, so frames cannot be
reordered, dropped or cut off unnoticed: the last frame states how many data
frames came and the SHA-256 of the data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"PORTAL-BACKUP 1\n"
SALT_BYTES = 16
CHUNK_BYTES = 1024 * 1024
MIN_KEY_LENGTH = 16

_MANIFEST, _DATA, _END = 0, 1, 2
_FRAME_HEAD = struct.Struct(">QB")
_LENGTH = struct.Struct(">I")


class BackupError(Exception):
    """A backup cannot be written or read; the message says why."""


def check_key(key: str) -> None:
    if len(key) < MIN_KEY_LENGTH:
        raise BackupError(f"The backup key must be at least {MIN_KEY_LENGTH} characters long.")


def _fernet(key: str, salt: bytes) -> Fernet:
    derived = Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def write(out: BinaryIO, key: str, manifest: dict, chunks: Iterable[bytes]) -> int:
    """Encrypt ``manifest`` and the data ``chunks`` into ``out``; return the data's size."""
    check_key(key)
    salt = os.urandom(SALT_BYTES)
    fernet = _fernet(key, salt)
    out.write(MAGIC + salt)
    number = 0

    def frame(kind: int, payload: bytes) -> None:
        nonlocal number
        token = fernet.encrypt(_FRAME_HEAD.pack(number, kind) + payload)
        out.write(_LENGTH.pack(len(token)) + token)
        number += 1

    frame(_MANIFEST, json.dumps(manifest, sort_keys=True).encode())
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        for start in range(0, len(chunk), CHUNK_BYTES):
            piece = chunk[start : start + CHUNK_BYTES]
            digest.update(piece)
            size += len(piece)
            frame(_DATA, piece)
    frame(_END, json.dumps({"frames": number - 1, "sha256": digest.hexdigest()}).encode())
    return size


class Reader:
    """Opens a backup file: ``manifest`` first, then ``chunks()`` yields the data, checked."""

    def __init__(self, source: BinaryIO, key: str) -> None:
        self.source = source
        head = source.read(len(MAGIC) + SALT_BYTES)
        if not head.startswith(MAGIC) or len(head) < len(MAGIC) + SALT_BYTES:
            raise BackupError("This is not a Portal backup file.")
        self.fernet = _fernet(key, head[len(MAGIC) :])
        self.number = 0
        try:
            kind, payload = self._next()
        except InvalidToken:
            raise BackupError(
                "The key does not open this backup (a wrong key, or the file was changed)."
            ) from None
        if kind != _MANIFEST:
            raise BackupError("The backup file is damaged (no manifest).")
        self.manifest = json.loads(payload)

    def _next(self) -> tuple[int, bytes]:
        length = self.source.read(_LENGTH.size)
        if len(length) < _LENGTH.size:
            raise BackupError("The backup file is incomplete (it ends too early).")
        token = self.source.read(_LENGTH.unpack(length)[0])
        plain = self.fernet.decrypt(token)
        number, kind = _FRAME_HEAD.unpack_from(plain)
        if number != self.number:
            raise BackupError("The backup file is damaged (its parts are out of order).")
        self.number += 1
        return kind, plain[_FRAME_HEAD.size :]

    def chunks(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        while True:
            try:
                kind, payload = self._next()
            except InvalidToken:
                raise BackupError("The backup file is damaged (a part fails its check).") from None
            if kind == _END:
                break
            digest.update(payload)
            yield payload
        end = json.loads(payload)
        if end["frames"] != self.number - 2 or end["sha256"] != digest.hexdigest():
            raise BackupError("The backup file is damaged (its data does not match its checksum).")
        if self.source.read(1):
            raise BackupError("The backup file is damaged (data after its end).")
