"""ID numbers at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``), shown
masked everywhere. The key is ``FLASHPORT_IDENTITY_KEY`` (outside production, one made at random in the
data directory: ``keyring.py``). During a rotation the previous keys (``FLASHPORT_PREVIOUS_IDENTITY_KEYS``)
still open what they sealed, and ``flashport reseal-identities`` re-seals every number under the current
key, after which they can be dropped."""

from __future__ import annotations

import re

from cryptography.fernet import Fernet, MultiFernet

from flashport.settings import Settings


class IdentityVault:
    def __init__(self, settings: Settings) -> None:
        self._fernet = MultiFernet([Fernet(key.encode()) for key in settings.keys.identity_keys])

    def seal(self, id_number: str) -> str:
        """Sealed under the current key."""
        return self._fernet.encrypt(id_number.encode()).decode()

    def open(self, sealed: str) -> str:
        """Opened with whichever key of the keyring sealed it."""
        return self._fernet.decrypt(sealed.encode()).decode()

    def reseal(self, sealed: str) -> str:
        """The same number sealed under the current key (a rotation's re-encryption)."""
        return self._fernet.rotate(sealed.encode()).decode()


def mask_id_number(id_number: str) -> str:
    """``110101199003074258`` -> ``1101**********4258``: region kept, birth date hidden."""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


# An 18-character resident ID number standing alone in free text (an error message, a partner's
# answer): the check character may be X.
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def mask_id_numbers_in(text: str) -> str:
    """``text`` with every resident ID number in it masked: for text that is logged or kept in clear
    (audit records of partner exchanges, error messages)."""
    return _ID_NUMBER_IN_TEXT.sub(lambda found: mask_id_number(found.group(0)), text)
