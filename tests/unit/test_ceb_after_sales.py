"""The after-sales messages validate against the official XSD: CEB513 (the carrier's "signed for"),
CEB623 (an accepted inventory list withdrawn) and CEB625 (released goods returned), signed where the
schema requires it; a builder refuses what customs would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from flashport.ceb import InconsistentDeclaration, SigningRequired, SoftwareKeySigner, validate
from flashport.ceb.delivery import DeliveryDeclaration, delivery_message
from flashport.ceb.withdrawals import ReturnedLine, Withdrawal, cancellation_message, return_message
from tests.unit.test_customs_messages import BONDED, CARRIER, NS, SENDER, bonded_order, inventory_for

INVT_NO = "310120261000001234"


@pytest.fixture(scope="module")
def signer() -> SoftwareKeySigner:
    return SoftwareKeySigner.generate("Flashport after-sales test")


def withdrawal(returned: tuple[ReturnedLine, ...] = ()) -> Withdrawal:
    return Withdrawal(inventory_for(bonded_order(), BONDED), INVT_NO, "七天无理由退货", "R1", returned)


def test_the_carriers_delivery_validates_and_says_signed_for() -> None:
    message = delivery_message(
        DeliveryDeclaration(CARRIER, "ST1234567890", datetime(2026, 6, 20, 4, 0, tzinfo=UTC)), SENDER
    )
    assert validate(message) == []
    root = etree.fromstring(message)
    assert root.findtext("ceb:LogisticsStatus/ceb:logisticsStatus", namespaces=NS) == "S"
    assert (
        root.findtext("ceb:LogisticsStatus/ceb:logisticsTime", namespaces=NS) == "20260620120000"
    )  # China time


def test_a_cancellation_of_an_accepted_list_validates_signed(signer: SoftwareKeySigner) -> None:
    message = cancellation_message(withdrawal(), SENDER, signer=signer)
    assert validate(message) == []
    root = etree.fromstring(message)
    assert root.findtext("ceb:InvtCancel/ceb:invtNo", namespaces=NS) == INVT_NO
    assert root.find("ds:Signature", NS) is not None


def test_a_return_lists_the_goods_going_back_and_validates_signed(signer: SoftwareKeySigner) -> None:
    first = bonded_order().lines[0]
    message = return_message(withdrawal((ReturnedLine(first.gnum, first.qty),)), SENDER, signer=signer)
    assert validate(message) == []
    root = etree.fromstring(message)
    assert root.findtext("ceb:InvtRefund/ceb:InvtRefundHead/ceb:reason", namespaces=NS) == "七天无理由退货"
    assert [n.text for n in root.findall("ceb:InvtRefund/ceb:InvtRefundList/ceb:gnum", NS)] == [
        str(first.gnum)
    ]


def test_the_builders_refuse_what_customs_would(signer: SoftwareKeySigner) -> None:
    with pytest.raises(SigningRequired):
        return_message(withdrawal((ReturnedLine(1, 1),)), SENDER, signer=None)
    with pytest.raises(InconsistentDeclaration, match="at least one line"):
        return_message(withdrawal(), SENDER, signer=signer)
    with pytest.raises(InconsistentDeclaration, match="returns 99 of"):
        return_message(withdrawal((ReturnedLine(1, 99),)), SENDER, signer=signer)
    with pytest.raises(InconsistentDeclaration, match="reason"):
        cancellation_message(
            Withdrawal(inventory_for(bonded_order(), BONDED), INVT_NO, ""), SENDER, signer=signer
        )
