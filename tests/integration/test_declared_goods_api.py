"""The catalog keeps goods as customs reads them: HS codes on the positive list (which operators load
by edition), legal units from the list, Chinese declared names, gmodel, net content and weights, the
bonded record number and the warehouse's area code, each refused with its own code when wrong."""

from __future__ import annotations

from typing import Any

import httpx

from flashport.domain.accounts import Role
from flashport.services.context import Context
from tests.factories import make_supplier
from tests.integration.test_catalog_api import (
    API,
    created,
    headers_for,
    new_brand,
    new_warehouse,
    product_body,
    sku_body,
)

WINE = {
    "hs_code": "2204210000",
    "name": "装入2升及以下容器的葡萄酒",
    "legal_unit": "095",
    "second_legal_unit": "035",
}
FORMULA = {"hs_code": "1901101000", "name": "供婴幼儿食用的零售包装配方奶粉", "legal_unit": "035"}


async def _catalog(client: httpx.AsyncClient, ctx: Context) -> tuple[dict[str, Any], int, int]:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    return op, int(brand["id"]), await make_supplier(ctx)


async def test_a_product_must_be_on_the_positive_list_and_takes_its_legal_units(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op, brand_id, supplier_id = await _catalog(client, ctx)
    unlisted = await client.post(
        f"{API}/products", headers=op, json=product_body(brand_id, supplier_id, hs_code="0402900000")
    )
    assert unlisted.status_code == 422 and unlisted.json()["code"] == "hs_code_not_on_positive_list"
    assert "2022-subset-1" in unlisted.json()["details"][0]["message"]
    wrong_unit = await client.post(
        f"{API}/products", headers=op, json=product_body(brand_id, supplier_id, legal_unit="007")
    )
    assert wrong_unit.status_code == 422 and wrong_unit.json()["code"] == "legal_unit_mismatch"

    body = product_body(brand_id, supplier_id, hs_code="8510100000", skus=[sku_body()])
    del body["legal_unit"]
    shaver = await created(client, "/products", op, body)
    assert (shaver["legal_unit"], shaver["second_legal_unit"]) == ("001", "035")
    assert shaver["declared_name"] == "爱他美婴儿配方奶粉1段"
    [sku] = shaver["skus"]
    assert (sku["net_weight_grams"], sku["packaging_weight_grams"], sku["net_content_unit"]) == (
        800,
        300,
        "g",
    )
    assert sku["gmodel"] == "品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖、植物油"

    recoded = await client.patch(f"{API}/products/{shaver['id']}", headers=op, json={"hs_code": "0402900000"})
    assert recoded.status_code == 422 and recoded.json()["code"] == "hs_code_not_on_positive_list"
    moved = await client.patch(f"{API}/products/{shaver['id']}", headers=op, json={"hs_code": "1901101000"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["legal_unit"], moved.json()["second_legal_unit"]) == ("035", None)


async def test_operators_load_a_new_edition_which_replaces_the_packaged_one(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op, brand_id, supplier_id = await _catalog(client, ctx)
    supplier = await headers_for(ctx, Role.SUPPLIER, supplier_id)
    packaged = (await client.get(f"{API}/catalog/positive-list", headers=supplier)).json()
    assert packaged["packaged"] is True and packaged["edition"] == "2022-subset-1"
    assert "1901101000" in {line["hs_code"] for line in packaged["goods"]}

    edition = {"edition": "2026-test", "source": "MOF et al., test edition", "goods": [WINE, FORMULA]}
    refused = await client.post(f"{API}/catalog/positive-list", headers=supplier, json=edition)
    assert refused.status_code == 403
    bad = {**edition, "goods": [WINE, {**FORMULA, "hs_code": "19011010"}]}
    invalid = await client.post(f"{API}/catalog/positive-list", headers=op, json=bad)
    assert invalid.status_code == 422 and invalid.json()["details"][0]["field"] == "goods.1.hs_code"
    loaded = await created(client, "/catalog/positive-list", op, edition)
    assert loaded["packaged"] is False and [g["hs_code"] for g in loaded["goods"]] == [
        "1901101000",
        "2204210000",
    ]
    again = await client.post(f"{API}/catalog/positive-list", headers=op, json=edition)
    assert again.status_code == 409 and again.json()["code"] == "positive_list_edition_taken"
    assert (await client.get(f"{API}/catalog/positive-list", headers=op)).json()["edition"] == "2026-test"

    # 0402290000 was on the packaged edition only: it is refused now; wine is accepted, in litres.
    milk = await client.post(f"{API}/products", headers=op, json=product_body(brand_id, supplier_id))
    assert milk.status_code == 422 and "2026-test" in milk.json()["details"][0]["message"]
    wine_sku = {**sku_body("WINE-750"), "unit": "142", "net_content": "750", "net_content_unit": "ml"}
    grams_only = {**wine_sku, "net_content": "760", "net_content_unit": "g"}
    body = product_body(brand_id, supplier_id, hs_code="2204210000", legal_unit=None, skus=[grams_only])
    by_weight = await client.post(f"{API}/products", headers=op, json=body)
    assert by_weight.status_code == 422 and by_weight.json()["code"] == "net_content_unit_mismatch"
    wine = await created(client, "/products", op, {**body, "skus": [wine_sku]})
    assert (wine["legal_unit"], wine["second_legal_unit"]) == ("095", "035")


async def test_every_customs_field_of_a_sku_is_checked_with_its_own_code(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op, brand_id, supplier_id = await _catalog(client, ctx)
    product = await created(client, "/products", op, product_body(brand_id, supplier_id))
    english = await client.post(
        f"{API}/products", headers=op, json=product_body(brand_id, supplier_id, declared_name="Milk powder")
    )
    assert english.status_code == 422 and english.json()["code"] == "declared_name_not_chinese"
    for change, code, field in (
        ({"gmodel": "爱他美 800g"}, "invalid_gmodel", "gmodel"),
        ({"gmodel": None}, "missing_field", "gmodel"),
        ({"net_content": "0"}, "invalid_net_content", "net_content"),
        ({"net_content_unit": "oz"}, "invalid_net_content", "net_content_unit"),
        ({"net_weight_grams": None}, "invalid_weight", "net_weight_grams"),
        ({"packaging_weight_grams": 0}, "invalid_weight", "packaging_weight_grams"),
        ({"item_record_no": "record 1/2"}, "invalid_item_record_no", "item_record_no"),
    ):
        answer = await client.post(
            f"{API}/products/{product['id']}/skus", headers=op, json={**sku_body("X-1"), **change}
        )
        assert answer.status_code == 422, (change, answer.text)
        assert (answer.json()["code"], answer.json()["details"][0]["field"]) == (code, field), change
    sku = await created(
        client,
        f"/products/{product['id']}/skus",
        op,
        {**sku_body("X-1"), "item_record_no": "T3105W000001-0001"},
    )
    assert sku["item_record_no"] == "T3105W000001-0001"
    patched = await client.patch(f"{API}/skus/{sku['id']}", headers=op, json={"packaging_weight_grams": 120})
    assert patched.status_code == 200 and patched.json()["packaging_weight_grams"] == 120


async def test_a_bonded_warehouse_declares_its_area_operators_registered_code(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    warehouse = await new_warehouse(client, op)
    assert warehouse["area_code"] == "3105W60001"
    internal = {
        "code": "NB-2",
        "name": "N",
        "kind": "bonded",
        "customs_district": "3105",
        "area_code": "NB-BONDED-2",
    }
    refused = await client.post(f"{API}/warehouses", headers=op, json=internal)
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_area_code"
    abroad = {"code": "FRA-1", "name": "F", "kind": "overseas", "country": "DE", "area_code": "3105W60001"}
    overseas = await client.post(f"{API}/warehouses", headers=op, json=abroad)
    assert overseas.status_code == 422 and overseas.json()["code"] == "invalid_area_code"
