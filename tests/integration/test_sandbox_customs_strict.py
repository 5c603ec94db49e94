"""The strict single window: every case the audit got through the simulator is now refused with the
reason customs would give (a code, then Chinese and English wording), and what it keeps holds no ID
number in clear. Documents are the real codec's messages, changed in their XML the way a faulty or
dishonest sender would."""

# Chinese wording is written with its own full-width punctuation.
# The simulator's fixtures are imported from its main test module (F401/F811: pytest uses them by name).
# ruff: noqa: RUF001, F811

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

from flashport.ceb import (
    AppType,
    DirectImport,
    SignatureInvalid,
    SoftwareKeySigner,
    validate,
    verify_signature,
)
from flashport.ceb.tax_bills import TaxBillStatus, parse_tax_bills, parse_tax_states
from flashport.ceb.xml import DS_NS, to_bytes
from flashport.sandbox_customs import reasons, refusals
from flashport.sandbox_customs.sealing import Sealer
from tests.integration.test_sandbox_customs import (
    BUYER,
    PAYMENT_DXP,
    PLATFORM,
    PLATFORM_DXP,
    SELLER,
    TAX_KINDS,
    Documents,
    bonded_order,
    customs,  # noqa: F401 - fixture
    customs_app,
    customs_sim,  # noqa: F401 - fixture
    declaration,
    inbox,
    running,
    send,
    signer,  # noqa: F401 - fixture
)

Edit = Callable[[bytes], bytes]


def resigned(message: bytes, edit: Edit, signer: SoftwareKeySigner) -> bytes:
    """``message`` (a CEB621) changed by ``edit`` and signed again, as its sender would."""
    root = etree.fromstring(message)
    root.remove(root.find(f"{{{DS_NS}}}Signature"))
    return signer.sign(edit(to_bytes(root)))


def replaced(old: str, new: str) -> Edit:
    def edit(message: bytes) -> bytes:
        assert old.encode() in message, old
        return message.replace(old.encode(), new.encode())

    return edit


def removed(element: str) -> Edit:
    def edit(message: bytes) -> bytes:
        root = etree.fromstring(message)
        for found in root.iter(f"{{*}}{element}"):
            found.getparent().remove(found)
        return to_bytes(root)

    return edit


async def refusal_of(customs: httpx.AsyncClient, dxp_id: str) -> str:
    (*_, last) = await inbox(customs, dxp_id)
    assert last.return_status == 100, last.return_info
    return last.return_info


# --- certificates -----------------------------------------------------------------------------------


async def test_an_inventory_list_signed_by_an_unregistered_key_is_refused(customs, signer) -> None:
    stranger = SoftwareKeySigner.generate("Anyone at all")
    messages = Documents.of(bonded_order("FP20260618000801")).messages(stranger)
    await send(customs, messages["inventory"])
    info = await refusal_of(customs, PLATFORM_DXP)
    assert info.startswith(
        f"[{refusals.CERTIFICATE_NOT_REGISTERED}] 签名证书未在海关备案（agentCode {SELLER.code}）"
    )
    assert "not registered to agentCode" in info
    assert (await declaration(customs, "FP20260618000801"))["state"] is None


async def test_a_key_registered_to_another_agent_or_role_does_not_sign_for_this_one(tmp_path, signer) -> None:
    app = customs_app(tmp_path)
    async with running(app) as customs:
        pem = signer.certificate.public_bytes(serialization.Encoding.PEM).decode()
        for body in (
            {"agent_code": PLATFORM.code, "role": "platform", "certificate": pem},  # another enterprise
            {"agent_code": SELLER.code, "role": "carrier", "certificate": pem},  # the wrong role
        ):
            assert (await customs.post("/admin/certificates", json=body)).status_code == 201
        await send(customs, Documents.of(bonded_order("FP20260618000802")).messages(signer)["inventory"])
        assert (await refusal_of(customs, PLATFORM_DXP)).startswith("[certificate_not_registered]")

        registered = {"agent_code": SELLER.code, "role": "warehouse", "certificate": pem}
        answer = await customs.post("/admin/certificates", json=registered)
        assert answer.status_code == 201
        assert (
            answer.json()["fingerprint"]
            == hashlib.sha256(signer.certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
        )
        await send(customs, Documents.of(bonded_order("FP20260618000803")).messages(signer)["inventory"])
        assert (await inbox(customs, PLATFORM_DXP))[-1].return_status == 2
        listed = (await customs.get("/admin/certificates")).json()["certificates"]
        assert len(listed) == 3


async def test_the_admin_endpoints_ask_for_the_token_when_one_is_set(tmp_path, signer) -> None:
    app = customs_app(tmp_path, admin_token="s3cret")
    async with running(app) as customs:
        pem = signer.certificate.public_bytes(serialization.Encoding.PEM).decode()
        body = {"agent_code": SELLER.code, "role": "platform", "certificate": pem}
        assert (await customs.post("/admin/certificates", json=body)).status_code == 401
        ok = await customs.post("/admin/certificates", json=body, headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 201
        bad = {**body, "certificate": "not a certificate"}
        refused = await customs.post(
            "/admin/certificates", json=bad, headers={"authorization": "Bearer s3cret"}
        )
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_certificate")


class _Sha1Signer(XMLSigner):
    """RSA-SHA1, as the e-port's hardware keys sign; signxml makes it only when told to."""

    def check_deprecated_methods(self) -> None:
        pass


async def test_rsa_sha1_signatures_of_a_registered_key_are_accepted(customs, signer) -> None:
    message = Documents.of(bonded_order("FP20260618000804")).messages(signer)["inventory"]
    root = etree.fromstring(message)
    root.remove(root.find(f"{{{DS_NS}}}Signature"))
    sha1 = _Sha1Signer(
        signature_algorithm=SignatureMethod.RSA_SHA1,
        digest_algorithm=DigestAlgorithm.SHA1,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    ).sign(root, key=signer.private_key, cert=[signer.certificate])
    signed = to_bytes(sha1)
    assert b"xmldsig#rsa-sha1" in signed and validate(signed) == []
    verify_signature(signed, signer.certificate, accept_sha1=True)
    with pytest.raises(SignatureInvalid):  # the codec's default stays SHA-256 only
        verify_signature(signed, signer.certificate)
    await send(customs, signed)
    assert (await inbox(customs, PLATFORM_DXP))[-1].return_status == 2


# --- fields, identity, codes, status ----------------------------------------------------------------


def _direct(documents: Documents) -> Documents:
    route = DirectImport(traf_no="CA1234", voyage_no="20260618", bill_no="999-12345675")
    lines = tuple(dataclasses.replace(line, item_record_no=None) for line in documents.inventory.lines)
    return dataclasses.replace(
        documents, inventory=dataclasses.replace(documents.inventory, route=route, lines=lines)
    )


INVENTORY_CASES: list[tuple[str, str, Edit, bool]] = [
    ("bonded-areaCode", refusals.MISSING_FIELD, removed("areaCode"), False),
    ("bonded-itemRecordNo", refusals.MISSING_FIELD, removed("itemRecordNo"), False),
    ("direct-billNo", refusals.MISSING_FIELD, removed("billNo"), True),
    ("id-type-2", refusals.ID_TYPE_INVALID, replaced("<ceb:buyerIdType>1<", "<ceb:buyerIdType>2<"), False),
    (
        "trade-mode-1234",
        refusals.CODE_INVALID,
        replaced("<ceb:tradeMode>1210<", "<ceb:tradeMode>1234<"),
        False,
    ),
    ("ieFlag-E", refusals.CODE_INVALID, replaced("<ceb:ieFlag>I<", "<ceb:ieFlag>E<"), False),
    ("country-999", refusals.CODE_INVALID, replaced("<ceb:country>601<", "<ceb:country>999<"), False),
    ("unit-999", refusals.CODE_INVALID, replaced("<ceb:unit1>035<", "<ceb:unit1>999<"), False),
    ("hs-code-letters", refusals.CODE_INVALID, replaced("1901101010", "19011010AB"), False),
    ("saved-not-declared", refusals.NOT_DECLARED, replaced("<ceb:appStatus>2<", "<ceb:appStatus>1<"), False),
]


@pytest.mark.parametrize(
    ("code", "edit", "direct"),
    [case[1:] for case in INVENTORY_CASES],
    ids=[case[0] for case in INVENTORY_CASES],
)
async def test_an_inventory_list_failing_field_verification_is_refused_with_its_reason(
    customs, signer, code: str, edit: Edit, direct: bool
) -> None:
    documents = Documents.of(bonded_order("FP20260618000811"))
    documents = _direct(documents) if direct else documents
    message = resigned(documents.messages(signer)["inventory"], edit, signer)
    assert validate(message) == []  # the schema lets each of these through: only customs' rules refuse
    await send(customs, message)
    info = await refusal_of(customs, PLATFORM_DXP)
    assert info.startswith(f"[{code}] ") and " / " in info
    assert (await declaration(customs, "FP20260618000811"))["state"] is None  # not filed


async def test_a_direct_import_list_with_its_flight_is_taken(customs, signer) -> None:
    documents = _direct(Documents.of(bonded_order("FP20260618000812")))
    await send(customs, documents.messages(signer)["inventory"])
    assert (await inbox(customs, PLATFORM_DXP))[-1].return_status == 2


ID_CASES = [
    ("check-digit", "11010519491231002X", "110105194912310021", "check digit is wrong (GB 11643)"),
    ("region-000000", "11010519491231002X", "00000019491231002X", "region code"),
    ("birth-date", "11010519491231002X", "110105194913310021", "birth date"),
]


@pytest.mark.parametrize(("good", "bad", "said"), [c[1:] for c in ID_CASES], ids=[c[0] for c in ID_CASES])
async def test_an_order_or_payment_with_an_invalid_id_number_is_refused(
    customs, signer, good: str, bad: str, said: str
) -> None:
    messages = Documents.of(bonded_order("FP20260618000813")).messages(signer)
    await send(customs, messages["order"].replace(good.encode(), bad.encode()))
    await send(customs, messages["payment"].replace(good.encode(), bad.encode()))
    for dxp_id, field in ((PLATFORM_DXP, "buyerIdNumber"), (PAYMENT_DXP, "payerIdNumber")):
        info = await refusal_of(customs, dxp_id)
        assert info.startswith(f"[id_number_invalid] {field}身份证号码不合法 / {field}: ") and said in info
        assert bad not in info


async def test_a_payment_declared_with_another_id_type_is_refused(customs, signer) -> None:
    message = Documents.of(bonded_order("FP20260618000814")).messages(signer)["payment"]
    await send(customs, message.replace(b"<ceb:payerIdType>1<", b"<ceb:payerIdType>2<"))
    assert (await refusal_of(customs, PAYMENT_DXP)).startswith("[id_type_invalid] payerIdType证件类型为2")


async def test_an_order_saved_but_not_declared_is_refused(customs, signer) -> None:
    message = Documents.of(bonded_order("FP20260618000815")).messages(signer)["order"]
    await send(customs, message.replace(b"<ceb:appStatus>2<", b"<ceb:appStatus>1<"))
    info = await refusal_of(customs, PLATFORM_DXP)
    assert info == (
        "[not_declared] 业务状态appStatus为1，只接收2-已申报 / appStatus 1 is not 2 (declared);"
        " 1 means saved and not declared"
    )


# --- uniqueness and the platform --------------------------------------------------------------------


def _numbers_of(documents: Documents, other: Documents) -> dict[str, Documents]:
    """``other`` reusing one number of ``documents`` each: waybill, payment transaction, copNo."""
    waybill = dataclasses.replace(other.waybill, logistics_no=documents.waybill.logistics_no)
    inventory = dataclasses.replace(other.inventory, logistics_no=documents.waybill.logistics_no)
    payment = dataclasses.replace(other.payment, pay_transaction_id=documents.payment.pay_transaction_id)
    cop = dataclasses.replace(other.inventory, cop_no=documents.inventory.cop_no)
    return {
        "waybill": dataclasses.replace(other, waybill=waybill, inventory=inventory),
        "payment": dataclasses.replace(other, payment=payment),
        "inventory": dataclasses.replace(other, inventory=cop),
    }


@pytest.mark.parametrize(
    ("document", "code", "dxp"),
    [
        ("waybill", refusals.DUPLICATE_WAYBILL, "DXPLOG0000000003"),
        ("payment", refusals.DUPLICATE_PAYMENT, PAYMENT_DXP),
        ("inventory", refusals.DUPLICATE_COP_NO, PLATFORM_DXP),
    ],
)
async def test_a_number_already_declared_for_another_order_is_refused(
    customs, signer, document: str, code: str, dxp: str
) -> None:
    first = Documents.of(bonded_order("FP20260618000821"))
    await send(customs, *first.messages(signer).values())
    second = _numbers_of(first, Documents.of(bonded_order("FP20260618000822")))[document]
    await send(customs, second.messages(signer)[document])
    info = await refusal_of(customs, dxp)
    assert info.startswith(f"[{code}] ") and "FP20260618000821" in info
    # The first order's own change may keep its number.
    await send(customs, first.messages(signer, AppType.CHANGE)["order"])


async def test_a_payment_from_another_platform_does_not_match_the_order(customs, signer) -> None:
    documents = Documents.of(bonded_order("FP20260618000823"))
    other_platform = dataclasses.replace(PLATFORM, code="4401960ZZZ")
    foreign = dataclasses.replace(
        documents.payment, platform=other_platform, pay_transaction_id="2026061822001400000000FOREIGN"
    )
    messages = documents.messages(signer)
    await send(customs, messages["order"], messages["waybill"], messages["inventory"])
    await send(customs, dataclasses.replace(documents, payment=foreign).messages(signer)["payment"])
    assert (await declaration(customs, "FP20260618000823"))["state"] == "waiting"  # no payment of ours
    await send(customs, messages["payment"])
    assert (await declaration(customs, "FP20260618000823"))["state"] == "released"


# --- the tax --------------------------------------------------------------------------------------


def _taxed(order_no: str, tax_total: int) -> Documents:
    order = bonded_order(order_no)
    order = dataclasses.replace(
        order, tax_total=tax_total, actural_paid=order.goods_value + tax_total - order.discount
    )
    return Documents.of(order)


@pytest.mark.parametrize(
    ("tax_total", "code", "said"),
    [
        (
            0,
            reasons.TAX_NOT_DECLARED,
            "应征税款49.78，订单taxTotal为0 / taxTotal is 0.00 but customs assesses 49.78",
        ),
        (
            4977,
            reasons.TAX_MISMATCH,
            "taxTotal 49.77 is not the assessed 49.78 (customsTax 0.00 + valueAddedTax",
        ),
    ],
    ids=["zero", "one-fen-short"],
)
async def test_a_tax_total_that_is_not_customs_assessment_is_rejected(
    customs, signer, tax_total: int, code: str, said: str
) -> None:
    await send(customs, *_taxed("FP20260618000831", tax_total).messages(signer).values())
    view = await declaration(customs, "FP20260618000831")
    assert (view["state"], view["reason_code"]) == ("rejected", code)
    assert said in view["reason_text"]


# --- what the simulator keeps ---------------------------------------------------------------------


async def test_no_id_number_is_kept_in_clear_and_yearly_totals_are_keyed_by_an_hmac(tmp_path, signer) -> None:
    async with running(customs_app(tmp_path, signer, secret="test-secret")) as customs:
        await send(customs, *Documents.of(bonded_order("FP20260618000841")).messages(signer).values())
        assert (await declaration(customs, "FP20260618000841"))["state"] == "released"
    record = tmp_path / "customs-sim" / "single-window.sqlite3"
    for file in record.parent.iterdir():
        assert BUYER.id_number.encode() not in file.read_bytes(), file
    with sqlite3.connect(record) as db:
        (key,) = db.execute("SELECT id_hash FROM year_totals").fetchone()
    assert key != hashlib.sha256(BUYER.id_number.encode()).hexdigest()
    assert key == hmac.new(b"test-secret", b"id:" + BUYER.id_number.encode(), hashlib.sha256).hexdigest()


async def test_a_record_of_the_old_simulator_is_migrated(tmp_path, signer) -> None:
    """Documents in clear and totals under SHA-256: sealed and re-keyed at start, totals kept."""
    async with running(customs_app(tmp_path, signer)) as customs:
        documents = Documents.of(bonded_order("FP20260618000851"))
        await send(customs, *documents.messages(signer).values())
    record = tmp_path / "customs-sim" / "single-window.sqlite3"
    secret = (tmp_path / "customs-sim" / "secret.key").read_bytes()
    _make_old(record, secret)
    assert BUYER.id_number.encode() in record.read_bytes()

    async with running(customs_app(tmp_path, signer)) as customs:
        # The released order still counts: a change of its order is refused as released.
        await send(customs, documents.messages(signer, AppType.CHANGE)["order"])
        assert "was released" in (await inbox(customs, PLATFORM_DXP))[-1].return_info
    with sqlite3.connect(record) as db:
        (version,) = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        (released,) = db.execute("SELECT released_fen FROM year_totals").fetchone()
    assert version == "2" and released == documents.order.actural_paid
    for file in record.parent.iterdir():  # no page of the old record left behind, WAL included
        assert BUYER.id_number.encode() not in file.read_bytes(), file


def _make_old(record: Path, secret: bytes) -> None:
    """Turn a current record back into what the first simulator wrote."""
    sealer = Sealer(secret)
    db = sqlite3.connect(record, isolation_level=None)
    try:
        for row_id, sealed in db.execute("SELECT id, message FROM documents").fetchall():
            db.execute("UPDATE documents SET message = ? WHERE id = ?", (sealer.open(sealed), row_id))
        db.execute("DROP INDEX documents_by_unique_no")
        for column in ("owner_code", "unique_no", "message_digest"):
            db.execute(f"ALTER TABLE documents DROP COLUMN {column}")
        db.execute("DROP TABLE meta")
        old_key = hashlib.sha256(BUYER.id_number.encode()).hexdigest()
        db.execute("UPDATE year_totals SET id_hash = ?", (old_key,))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


# --- the tax bill family --------------------------------------------------------------------------


async def test_a_released_order_gets_its_tax_bill_and_its_status_when_the_month_is_summarised(
    customs, signer
) -> None:
    await send(customs, *Documents.of(bonded_order("FP20260618000861")).messages(signer).values())
    items = (await customs.get(f"/dxp/inbox/{PLATFORM_DXP}", params={"limit": 500})).json()["items"]
    (bill,) = [item for item in items if item["kind"] == "CEB816"]
    message = bill["message"].encode()
    assert validate(message) == []
    (parsed,) = parse_tax_bills(message)
    released = [r for r in await inbox(customs, PLATFORM_DXP) if r.return_status == 800][-1]
    assert parsed.invt_no == released.business_keys["invtNo"] and parsed.status is TaxBillStatus.ISSUED
    assert (parsed.customs_tax_fen, parsed.vat_fen, parsed.consumption_tax_fen) == (0, 4978, 0)
    assert [(line.gnum, line.tax_price_fen, line.vat_fen) for line in parsed.lines] == [
        (1, 45800, 4168),
        (2, 8900, 810),
    ]

    period = parsed.return_time.strftime("%Y-%m")
    answer = await customs.post("/admin/tax-bills/summarise", json={"period": period})
    assert answer.json() == {"period": period, "bills": 1, "total_fen": 4978}
    items = (await customs.get(f"/dxp/inbox/{PLATFORM_DXP}", params={"limit": 500})).json()["items"]
    (status,) = [item for item in items if item["kind"] == "CEB818"]
    assert validate(status["message"].encode()) == []
    (state,) = parse_tax_states(status["message"].encode())
    assert (state.tax_no, state.status) == (parsed.tax_no, TaxBillStatus.SUMMARISED)
    again = await customs.post("/admin/tax-bills/summarise", json={"period": period})
    assert again.json()["bills"] == 0  # summarised once
    assert {item["kind"] for item in items} >= set(TAX_KINDS)
    bad = await customs.post("/admin/tax-bills/summarise", json={"period": "2026-13"})
    assert bad.status_code == 400
