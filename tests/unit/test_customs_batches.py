"""Batched customs messages: CEB311, CEB411, CEB511 and CEB621 carry 1 to 100 documents each, every one
with its own head guid; all validate against the official XSD; one signature covers a whole CEB621;
a 101st document is refused before any XML is made."""

from __future__ import annotations

import dataclasses

import pytest
from lxml import etree

from flashport.ceb import (
    InconsistentDeclaration,
    SignatureInvalid,
    inventory_message,
    new_guid,
    order_message,
    payment_message,
    validate,
    verify_signature,
    waybill_message,
)
from tests.unit.test_customs_messages import (
    BONDED,
    NS,
    SENDER,
    bonded_order,
    inventory_for,
    payment_for,
    signer,  # noqa: F401 - the module-scoped signing key fixture
    waybill_for,
)


def orders(count: int):
    base = bonded_order()
    return [dataclasses.replace(base, order_no=f"{base.order_no[:-4]}{n:04d}") for n in range(count)]


def heads(message: bytes, path: str) -> list[dict[str, str]]:
    root = etree.fromstring(message)
    return [{etree.QName(c).localname: c.text for c in node} for node in root.findall(path, NS)]


@pytest.mark.parametrize("count", [1, 2, 100])
def test_orders_payments_and_waybills_batch_up_to_100_and_validate(count: int) -> None:
    batch = orders(count)
    guids = [new_guid() for _ in batch]
    message = order_message(batch, SENDER, head_guids=guids)
    assert validate(message) == []
    found = heads(message, "ceb:Order/ceb:OrderHead")
    assert [h["orderNo"] for h in found] == [o.order_no for o in batch]
    assert [h["guid"] for h in found] == guids
    for build, path in (
        (lambda: payment_message([payment_for(o) for o in batch], SENDER), "ceb:Payment/ceb:PaymentHead"),
        (lambda: waybill_message([waybill_for(o) for o in batch], SENDER), "ceb:Logistics/ceb:LogisticsHead"),
    ):
        built = build()
        assert validate(built) == []
        assert [h["orderNo"] for h in heads(built, path)] == [o.order_no for o in batch]


def test_a_single_document_shares_the_message_guid_and_a_batch_gets_fresh_head_guids() -> None:
    one = order_message(orders(1), SENDER)
    assert heads(one, "ceb:Order/ceb:OrderHead")[0]["guid"] == etree.fromstring(one).get("guid")
    two = order_message(orders(2), SENDER)
    found = {h["guid"] for h in heads(two, "ceb:Order/ceb:OrderHead")}
    assert len(found) == 2 and etree.fromstring(two).get("guid") not in found


@pytest.mark.parametrize("count", [0, 101])
def test_none_or_more_than_100_documents_are_refused(count: int, signer) -> None:  # noqa: F811
    batch = orders(count)
    with pytest.raises(InconsistentDeclaration, match="1 to 100"):
        order_message(batch, SENDER)
    with pytest.raises(InconsistentDeclaration, match="1 to 100"):
        payment_message([payment_for(o) for o in batch], SENDER)
    with pytest.raises(InconsistentDeclaration, match="1 to 100"):
        waybill_message([waybill_for(o) for o in batch], SENDER)
    with pytest.raises(InconsistentDeclaration, match="1 to 100"):
        inventory_message([inventory_for(o, BONDED) for o in batch], SENDER, signer=signer)


def test_head_guids_must_match_the_documents() -> None:
    with pytest.raises(ValueError, match="head guids"):
        order_message(orders(2), SENDER, head_guids=[new_guid()])


def test_one_inconsistent_order_refuses_the_batch_naming_it() -> None:
    batch = orders(3)
    batch[1] = dataclasses.replace(batch[1], actural_paid=batch[1].actural_paid + 1)
    with pytest.raises(InconsistentDeclaration, match=batch[1].order_no):
        order_message(batch, SENDER)


@pytest.mark.parametrize("count", [1, 2, 100])
def test_one_signature_covers_a_whole_inventory_batch(count: int, signer) -> None:  # noqa: F811
    batch = [inventory_for(o, BONDED) for o in orders(count)]
    message = inventory_message(batch, SENDER, signer=signer)
    assert validate(message) == []
    root = etree.fromstring(message)
    assert len(root.findall("ds:Signature", NS)) == 1
    assert len(root.findall("ceb:Inventory", NS)) == count
    verify_signature(message, signer.certificate)
    # Any one inventory list altered breaks the signature over all of them.
    last = batch[-1].order_no
    other = last[:-1] + ("8" if last.endswith("9") else "9")
    tampered = message.replace(f"<ceb:orderNo>{last}<".encode(), f"<ceb:orderNo>{other}<".encode())
    assert tampered != message
    with pytest.raises(SignatureInvalid):
        verify_signature(tampered, signer.certificate)
