"""A software WebAuthn authenticator for tests: real P-256 keys, real ES256 signatures.

It answers the options JSON Portal sends (py_webauthn's ``options_to_json``) the
way a browser plus a platform authenticator would, and returns what the
browser's ``PublicKeyCredential.toJSON()`` gives: base64url without padding,
attestation format "none", the public key as a COSE EC2 key.

Knobs let a test forge what an attacker or a broken device would send:
another origin (in clientDataJSON), another RP ID (hashed into the
authenticator data), no user verification, a sign count that went back, or a
credential this authenticator does not hold (signed by a throwaway key).

    authenticator = SoftAuthenticator()
    response = authenticator.register(options_json, "https://portal.example")
    assertion = authenticator.authenticate(options_json, "https://portal.example")
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40

#: COSE algorithm ES256 (ECDSA with SHA-256 on P-256).
ES256 = -7
#: The AAGUID this authenticator reports unless told another (16 bytes, recognisable in tests).
DEFAULT_AAGUID = bytes.fromhex("5011c0de5011c0de5011c0de5011c0de")


def b64url(data: bytes) -> str:
    """Base64url without padding, as WebAuthn's JSON forms use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuthenticatorRefused(Exception):
    """What a real authenticator refuses (e.g. an excluded credential, no ES256 offered)."""


@dataclass
class Credential:
    """One key pair the authenticator holds, with what it knows about it."""

    id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes | None
    sign_count: int = 0


class SoftAuthenticator:
    """A platform authenticator in software; every credential it creates is discoverable.

    ``uv``: whether it verifies the user (sets the UV flag). ``sign_count_step``:
    how much the counter grows per use (0: an authenticator without counter,
    like most synced passkeys). ``backup_eligible`` / ``backed_up``: the BE and
    BS flags (a synced passkey has both).
    """

    def __init__(
        self,
        uv: bool = True,
        sign_count_step: int = 1,
        *,
        backup_eligible: bool = False,
        backed_up: bool = False,
        aaguid: bytes = DEFAULT_AAGUID,
        transports: tuple[str, ...] = ("internal", "hybrid"),
    ) -> None:
        self.uv = uv
        self.sign_count_step = sign_count_step
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.aaguid = aaguid
        self.transports = list(transports)
        self.credentials: dict[bytes, Credential] = {}

    # --- Ceremonies ----------------------------------------------------------

    def register(
        self,
        options_json: str,
        origin: str,
        rp_id: str | None = None,
        *,
        uv: bool | None = None,
        credential_id: bytes | None = None,
    ) -> str:
        """Answer ``navigator.credentials.create()`` options; the registration response JSON.

        ``rp_id`` (default: the options' rp.id) is what goes into the
        authenticator data's rpIdHash; ``origin`` into clientDataJSON.
        """
        options = _options(options_json)
        rp_id = rp_id if rp_id is not None else options["rp"]["id"]
        algorithms = [param.get("alg") for param in options.get("pubKeyCredParams", [])]
        if algorithms and ES256 not in algorithms:
            raise AuthenticatorRefused("the relying party does not accept ES256")
        for excluded in options.get("excludeCredentials") or []:
            if from_b64url(excluded["id"]) in self.credentials:
                raise AuthenticatorRefused("this authenticator holds an excluded credential")

        credential = Credential(
            id=credential_id if credential_id is not None else secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp_id,
            user_handle=from_b64url(options["user"]["id"]),
        )
        self.credentials[credential.id] = credential

        client_data = _client_data("webauthn.create", options["challenge"], origin)
        attested = (
            self.aaguid
            + struct.pack(">H", len(credential.id))
            + credential.id
            + cbor2.dumps(_cose_key(credential.private_key))
        )
        auth_data = self._auth_data(rp_id, self._uv(uv) | FLAG_AT, credential.sign_count, attested)
        attestation_object = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(credential.id),
                "rawId": b64url(credential.id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation_object),
                    "transports": list(self.transports),
                    # What toJSON() adds for convenience; servers use the attestation object.
                    "authenticatorData": b64url(auth_data),
                    "publicKey": b64url(_spki(credential.private_key)),
                    "publicKeyAlgorithm": ES256,
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    def authenticate(
        self,
        options_json: str,
        origin: str,
        rp_id: str | None = None,
        credential_id: bytes | None = None,
        sign_count: int | None = None,
        uv: bool | None = None,
    ) -> str:
        """Answer ``navigator.credentials.get()`` options; the authentication response JSON.

        The credential used: ``credential_id`` if given (one this authenticator
        does not hold is signed with a throwaway key: an unknown credential),
        else the first of the options' allowCredentials it holds, else its
        newest credential for the RP ID (a discoverable sign-in).
        ``sign_count``: report this counter instead of the next one.
        """
        options = _options(options_json)
        options_rp_id = options.get("rpId")
        credential = self._choose(options, options_rp_id, credential_id)
        rp_id = rp_id if rp_id is not None else (options_rp_id or credential.rp_id)
        if sign_count is None:
            credential.sign_count += self.sign_count_step
            sign_count = credential.sign_count

        client_data = _client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(rp_id, self._uv(uv), sign_count)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(credential.id),
                "rawId": b64url(credential.id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": (
                        b64url(credential.user_handle) if credential.user_handle else None
                    ),
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    # --- Parts -----------------------------------------------------------------

    def _choose(self, options: dict, rp_id: str | None, credential_id: bytes | None) -> Credential:
        if credential_id is not None:
            held = self.credentials.get(credential_id)
            if held is not None:
                return held
            return Credential(
                id=credential_id,
                private_key=ec.generate_private_key(ec.SECP256R1()),
                rp_id=rp_id or "",
                user_handle=None,  # as a non-discoverable credential answers
            )
        allowed = [from_b64url(item["id"]) for item in options.get("allowCredentials") or []]
        if allowed:
            for candidate in allowed:
                if candidate in self.credentials:
                    return self.credentials[candidate]
            raise AuthenticatorRefused("none of the allowed credentials is held")
        for credential in reversed(list(self.credentials.values())):
            if rp_id is None or credential.rp_id == rp_id:
                return credential
        raise AuthenticatorRefused("no credential for this relying party")

    def _uv(self, uv: bool | None) -> int:
        verified = self.uv if uv is None else uv
        return FLAG_UP | (FLAG_UV if verified else 0)

    def _auth_data(self, rp_id: str, flags: int, sign_count: int, attested: bytes = b"") -> bytes:
        if self.backup_eligible:
            flags |= FLAG_BE
        if self.backed_up:
            flags |= FLAG_BS
        return (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", sign_count)
            + attested
        )


def _options(options_json: str | dict) -> dict:
    options = json.loads(options_json) if isinstance(options_json, str) else options_json
    # Portal's endpoints answer {"publicKey": {...}}; accept both shapes.
    return options.get("publicKey", options)


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


def _spki(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _cose_key(private_key: ec.EllipticCurvePrivateKey) -> dict:
    numbers = private_key.public_key().public_numbers()
    return {
        1: 2,  # kty: EC2
        3: ES256,  # alg
        -1: 1,  # crv: P-256
        -2: numbers.x.to_bytes(32, "big"),
        -3: numbers.y.to_bytes(32, "big"),
    }
