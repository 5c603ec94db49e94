"""Errors of the customs message layer. None of them is a buyer's fault: they mean a declaration was
assembled wrongly, a receipt could not be read, a signature did not hold, or the schema is missing."""

from __future__ import annotations


class CustomsMessageError(Exception):
    """Base of every error raised by :mod:`flashport.ceb`."""


class InconsistentDeclaration(CustomsMessageError):
    """The business content contradicts itself (totals, line numbering, bonded fields...).

    Raised before any XML is produced: customs would reject the message anyway, and a wrong amount
    declared to customs is worse than no declaration.
    """

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class SigningRequired(CustomsMessageError):
    """A message kind whose schema demands ``ds:Signature`` was built without a signer."""


class SignatureInvalid(CustomsMessageError):
    """The XML-DSig signature is missing, malformed, made by another key, or the message was altered."""


class ReceiptUnreadable(CustomsMessageError):
    """A receipt is not well-formed XML, not a CEB receipt, or lacks an element the parser needs."""


class SchemaNotFound(CustomsMessageError, FileNotFoundError):
    """The official CEB XSD is not at ``$FLASHPORT_CEB_XSD`` (when set), or not in the package (which
    was then installed without its data files)."""
