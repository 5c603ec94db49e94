from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa

from flashport.adapters.db.schema import brands, outbox, products, skus, stock, suppliers, warehouses
from flashport.domain.accounts import Role
from flashport.services.context import Context
from tests.factories import auth, make_supplier, make_user

API = "/api/v1"
Headers = dict[str, Any]


# --- builders and probes ---------------------------------------------------------------------------


async def headers_for(ctx: Context, role: Role, supplier_id: int | None = None) -> Headers:
    _, token = await make_user(ctx, role, supplier_id)
    return auth(token)


async def created(client: httpx.AsyncClient, path: str, headers: Headers, body: dict[str, Any]) -> Any:
    response = await client.post(f"{API}{path}", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def new_brand(client: httpx.AsyncClient, op: Headers, name: str = "Aptamil") -> Any:
    return await created(client, "/brands", op, {"name": name, "country": "de"})


async def new_warehouse(client: httpx.AsyncClient, op: Headers, code: str = "NB-1") -> Any:
    body = {
        "code": code,
        "name": "Ningbo bonded",
        "kind": "bonded",
        "customs_district": "3105",
        "area_code": "3105W60001",
    }
    return await created(client, "/warehouses", op, body)


def sku_body(code: str = "APT-1-800", price: Any = "129.00") -> dict[str, Any]:
    return {
        "code": code,
        "title": "800 g tin",
        "original_price": price,
        "weight_grams": 1100,
        "unit": "122",
        "gmodel": "品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖、植物油",
        "net_content": "800",
        "net_content_unit": "g",
        "net_weight_grams": 800,
        "packaging_weight_grams": 300,
    }


def product_body(brand_id: int, supplier_id: int | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "brand_id": brand_id,
        "title": "Aptamil Pronutra 1",
        "declared_name": "爱他美婴儿配方奶粉1段",
        "images": ["https://img.example.com/apt-1.jpg"],
        "origin_country": "DE",
        "hs_code": "0402290000",
        "legal_unit": "035",
        "tax_category": "reduced_vat",
    }
    if supplier_id is not None:
        body["supplier_id"] = supplier_id
    return {**body, **overrides}


async def new_product(
    client: httpx.AsyncClient, headers: Headers, brand_id: int, supplier_id: int | None, **overrides: Any
) -> Any:
    return await created(client, "/products", headers, product_body(brand_id, supplier_id, **overrides))


async def count(ctx: Context, table: sa.Table) -> int:
    async with ctx.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def events(ctx: Context) -> list[dict[str, Any]]:
    async with ctx.read() as conn:
        return [dict(r._mapping) for r in await conn.execute(sa.select(outbox).order_by(outbox.c.id))]


async def set_allotted(ctx: Context, sku_id: int, warehouse_id: int, allotted: int) -> None:
    """What the event services do when a sale item takes units from this stock."""
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            stock.update()
            .where(stock.c.sku_id == sku_id, stock.c.warehouse_id == warehouse_id)
            .values(allotted=allotted)
        )


def error_fields(response: httpx.Response) -> set[str]:
    return {d["field"] for d in response.json()["details"]}


# --- brands, suppliers, warehouses -----------------------------------------------------------------


async def test_operator_creates_lists_reads_and_changes_a_brand(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await created(
        client, "/brands", op, {"name": " Aptamil ", "country": "de", "logo_url": "https://x.example/a.png"}
    )
    assert brand["name"] == "Aptamil"
    assert brand["country"] == "DE"

    changed = await client.patch(
        f"{API}/brands/{brand['id']}", headers=op, json={"description": "Infant milk"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "Infant milk"
    assert changed.json()["logo_url"] == "https://x.example/a.png"

    one = await client.get(f"{API}/brands/{brand['id']}")
    assert one.json()["description"] == "Infant milk"
    page = await client.get(f"{API}/brands")
    assert [b["name"] for b in page.json()["items"]] == ["Aptamil"]


async def test_anyone_may_browse_brands_but_only_operators_add_them(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    for name in ("Aptamil", "Nivea", "Swisse"):
        await new_brand(client, op, name)
    first = await client.get(f"{API}/brands", params={"limit": 2})
    assert first.status_code == 200
    assert first.json()["has_more"] is True
    rest = await client.get(f"{API}/brands", params={"limit": 2, "offset": 2})
    assert [b["name"] for b in rest.json()["items"]] == ["Swisse"]
    assert rest.json()["has_more"] is False
    assert (await client.get(f"{API}/brands", params={"limit": 201})).status_code == 422

    assert (await client.post(f"{API}/brands", json={"name": "X", "country": "FR"})).status_code == 401
    supplier = await headers_for(ctx, Role.SUPPLIER, await make_supplier(ctx))
    refused = await client.post(f"{API}/brands", headers=supplier, json={"name": "X", "country": "FR"})
    assert refused.status_code == 403


async def test_operator_adds_suppliers_and_warehouses_which_supplier_users_may_read(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    maison = await created(
        client, "/suppliers", op, {"name": "Maison", "country": "fr", "contact_email": "Sales@Maison.FR"}
    )
    assert maison["contact_email"] == "sales@maison.fr"
    other = await created(client, "/suppliers", op, {"name": "Other", "country": "JP"})
    bonded = await new_warehouse(client, op)
    assert (bonded["kind"], bonded["country"], bonded["code"]) == ("bonded", "CN", "NB-1")
    overseas = await created(
        client, "/warehouses", op, {"code": "fr-lyon", "name": "Lyon", "kind": "overseas", "country": "FR"}
    )
    assert overseas["customs_district"] is None

    sup = await headers_for(ctx, Role.SUPPLIER, maison["id"])
    listed = await client.get(f"{API}/warehouses", headers=sup)
    assert [w["code"] for w in listed.json()["items"]] == ["NB-1", "FR-LYON"]
    assert (await client.get(f"{API}/warehouses/{overseas['id']}", headers=sup)).status_code == 200
    assert (await client.get(f"{API}/suppliers/{maison['id']}", headers=sup)).status_code == 200
    assert (await client.get(f"{API}/suppliers/{other['id']}", headers=sup)).status_code == 403
    assert (await client.get(f"{API}/suppliers", headers=sup)).status_code == 403
    assert (await client.post(f"{API}/warehouses", headers=sup, json={})).status_code == 403
    assert [s["name"] for s in (await client.get(f"{API}/suppliers", headers=op)).json()["items"]] == [
        "Maison",
        "Other",
    ]


async def test_a_bonded_warehouse_needs_a_customs_district_and_lies_in_china(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    no_district = await client.post(
        f"{API}/warehouses", headers=op, json={"code": "NB", "name": "N", "kind": "bonded"}
    )
    assert no_district.status_code == 422
    assert error_fields(no_district) == {"customs_district", "area_code"}
    abroad = await client.post(
        f"{API}/warehouses",
        headers=op,
        json={
            "code": "NB",
            "name": "N",
            "kind": "bonded",
            "customs_district": "3105",
            "country": "FR",
            "area_code": "3105W60001",
        },
    )
    assert abroad.status_code == 422
    assert error_fields(abroad) == {"country"}
    assert await count(ctx, warehouses) == 0


# --- products and SKUs -----------------------------------------------------------------------------


async def test_operator_creates_a_product_with_skus_and_reads_it_back(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    supplier_id = await make_supplier(ctx)
    made = await new_product(
        client, op, brand["id"], supplier_id, skus=[sku_body("A-1", "129.00"), sku_body("A-2", 99.5)]
    )
    assert made["supplier_id"] == supplier_id
    assert [(s["code"], s["original_price"]) for s in made["skus"]] == [("A-1", "129.00"), ("A-2", "99.50")]

    read = await client.get(f"{API}/products/{made['id']}", headers=op)
    assert read.status_code == 200
    assert read.json()["tax_category"] == "reduced_vat"
    assert [s["original_price"] for s in read.json()["skus"]] == ["129.00", "99.50"]
    async with ctx.read() as conn:
        fen = (await conn.execute(sa.select(skus.c.original_price_fen).order_by(skus.c.id))).scalars().all()
    assert fen == [12900, 9950]

    sku_id = made["skus"][1]["id"]
    patched = await client.patch(f"{API}/skus/{sku_id}", headers=op, json={"original_price": "89.9"})
    assert patched.json()["original_price"] == "89.90"
    assert (await client.get(f"{API}/skus/{sku_id}", headers=op)).json()["original_price"] == "89.90"
    renamed = await client.patch(f"{API}/products/{made['id']}", headers=op, json={"title": "Pronutra 1"})
    assert renamed.json()["title"] == "Pronutra 1"
    assert renamed.json()["updated_at"] >= made["updated_at"]


async def test_a_supplier_user_creates_products_only_for_its_own_supplier(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    mine, theirs = await make_supplier(ctx), await make_supplier(ctx)
    sup = await headers_for(ctx, Role.SUPPLIER, mine)

    forced = await new_product(client, sup, brand["id"], None)
    assert forced["supplier_id"] == mine
    before = await count(ctx, outbox)
    mismatch = await client.post(f"{API}/products", headers=sup, json=product_body(brand["id"], theirs))
    assert mismatch.status_code == 403
    assert mismatch.json()["code"] == "not_your_supplier"
    assert await count(ctx, products) == 1
    assert await count(ctx, outbox) == before

    unnamed = await client.post(f"{API}/products", headers=op, json=product_body(brand["id"]))
    assert unnamed.status_code == 422
    assert error_fields(unnamed) == {"supplier_id"}


async def test_a_supplier_user_sees_and_manages_only_its_own_catalog(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    warehouse = await new_warehouse(client, op)
    mine, theirs = await make_supplier(ctx), await make_supplier(ctx)
    own = await new_product(client, op, brand["id"], mine, skus=[sku_body("MINE-1")])
    other = await new_product(client, op, brand["id"], theirs, skus=[sku_body("THEIRS-1")])
    other_sku = other["skus"][0]["id"]
    sup = await headers_for(ctx, Role.SUPPLIER, mine)

    listed = await client.get(f"{API}/products", headers=sup)
    assert [p["id"] for p in listed.json()["items"]] == [own["id"]]
    assert (
        await client.get(f"{API}/products", headers=sup, params={"supplier_id": theirs})
    ).status_code == 403
    assert (await client.get(f"{API}/products/{own['id']}", headers=sup)).status_code == 200

    refused = [
        await client.get(f"{API}/products/{other['id']}", headers=sup),
        await client.patch(f"{API}/products/{other['id']}", headers=sup, json={"title": "Mine now"}),
        await client.post(f"{API}/products/{other['id']}/skus", headers=sup, json=sku_body("X-1")),
        await client.get(f"{API}/skus/{other_sku}", headers=sup),
        await client.patch(f"{API}/skus/{other_sku}", headers=sup, json={"title": "x"}),
        await client.put(f"{API}/skus/{other_sku}/stock/{warehouse['id']}", headers=sup, json={"on_hand": 5}),
        await client.get(f"{API}/skus/{other_sku}/stock", headers=sup),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert {r.json()["code"] for r in refused} == {"not_your_supplier"}
    assert await count(ctx, stock) == 0

    own_sku = own["skus"][0]["id"]
    counted = await client.put(
        f"{API}/skus/{own_sku}/stock/{warehouse['id']}", headers=sup, json={"on_hand": 5}
    )
    assert counted.status_code == 200
    added = await client.post(f"{API}/products/{own['id']}/skus", headers=sup, json=sku_body("MINE-2"))
    assert added.status_code == 201


async def test_operators_filter_products_by_supplier_and_brand(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    milk, cream = await new_brand(client, op, "Aptamil"), await new_brand(client, op, "Nivea")
    first, second = await make_supplier(ctx), await make_supplier(ctx)
    a = await new_product(client, op, milk["id"], first)
    b = await new_product(client, op, cream["id"], first)
    c = await new_product(client, op, milk["id"], second)

    async def ids(**params: Any) -> list[int]:
        response = await client.get(f"{API}/products", headers=op, params=params)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await ids() == [a["id"], b["id"], c["id"]]
    assert await ids(supplier_id=first) == [a["id"], b["id"]]
    assert await ids(brand_id=milk["id"]) == [a["id"], c["id"]]
    assert await ids(supplier_id=first, brand_id=milk["id"]) == [a["id"]]
    assert await ids(limit=1, offset=1) == [b["id"]]


async def test_a_buyer_gets_403_on_every_management_endpoint(client: httpx.AsyncClient, ctx: Context) -> None:
    buyer = await headers_for(ctx, Role.BUYER)
    calls = [
        ("POST", "/brands", {"name": "X", "country": "FR"}),
        ("PATCH", "/brands/1", {"name": "Y"}),
        ("POST", "/suppliers", {"name": "X", "country": "FR"}),
        ("GET", "/suppliers", None),
        ("GET", "/suppliers/1", None),
        ("POST", "/warehouses", {"code": "X", "name": "X", "kind": "overseas", "country": "FR"}),
        ("GET", "/warehouses", None),
        ("GET", "/warehouses/1", None),
        ("POST", "/products", product_body(1, 1)),
        ("GET", "/products", None),
        ("GET", "/products/1", None),
        ("PATCH", "/products/1", {"title": "X"}),
        ("POST", "/products/1/skus", sku_body()),
        ("GET", "/skus/1", None),
        ("PATCH", "/skus/1", {"title": "X"}),
        ("PUT", "/skus/1/stock/1", {"on_hand": 1}),
        ("GET", "/skus/1/stock", None),
    ]
    for method, path, body in calls:
        response = await client.request(method, f"{API}{path}", headers=buyer, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "forbidden_role"


async def test_bad_values_are_422_and_name_the_field(client: httpx.AsyncClient, ctx: Context) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    bad_country = await client.post(f"{API}/brands", headers=op, json={"name": "X", "country": "XX"})
    assert bad_country.status_code == 422
    assert bad_country.json()["code"] == "invalid_country"
    assert error_fields(bad_country) == {"country"}

    brand = await new_brand(client, op)
    supplier_id = await make_supplier(ctx)
    bad_hs = await client.post(
        f"{API}/products", headers=op, json=product_body(brand["id"], supplier_id, hs_code="04022900")
    )
    assert bad_hs.status_code == 422
    assert error_fields(bad_hs) == {"hs_code"}
    bad_price = await client.post(
        f"{API}/products",
        headers=op,
        json=product_body(brand["id"], supplier_id, skus=[sku_body(price="129.001")]),
    )
    assert bad_price.status_code == 422
    assert bad_price.json()["code"] == "invalid_money"
    assert error_fields(bad_price) == {"skus.0.original_price"}
    several = await client.post(
        f"{API}/products",
        headers=op,
        json=product_body(brand["id"], supplier_id, images=[], origin_country="ZZ"),
    )
    assert error_fields(several) == {"images", "origin_country"}
    assert await count(ctx, products) == 0

    product = await new_product(client, op, brand["id"], supplier_id)
    sku_price = await client.post(
        f"{API}/products/{product['id']}/skus", headers=op, json=sku_body(price=12.345)
    )
    assert sku_price.status_code == 422
    assert error_fields(sku_price) == {"original_price"}
    wrong_type = await client.post(
        f"{API}/products/{product['id']}/skus", headers=op, json=sku_body(price=[1])
    )
    assert wrong_type.status_code == 422
    assert wrong_type.json()["code"] == "validation_error"
    assert error_fields(wrong_type) == {"original_price"}
    unknown_field = await client.patch(f"{API}/products/{product['id']}", headers=op, json={"supplier_id": 9})
    assert unknown_field.status_code == 422
    assert error_fields(unknown_field) == {"supplier_id"}
    blank_title = await client.patch(f"{API}/products/{product['id']}", headers=op, json={"title": None})
    assert blank_title.status_code == 422
    assert error_fields(blank_title) == {"title"}
    assert await count(ctx, skus) == 0


async def test_unknown_ids_are_404_with_specific_codes(client: httpx.AsyncClient, ctx: Context) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    supplier_id = await make_supplier(ctx)
    product = await new_product(client, op, brand["id"], supplier_id, skus=[sku_body()])
    sku_id = product["skus"][0]["id"]
    calls = [
        ("GET", "/brands/999", None, "brand_not_found"),
        ("PATCH", "/brands/999", {"name": "Z"}, "brand_not_found"),
        ("GET", "/suppliers/999", None, "supplier_not_found"),
        ("GET", "/warehouses/999", None, "warehouse_not_found"),
        ("GET", "/products/999", None, "product_not_found"),
        ("PATCH", "/products/999", {"title": "Z"}, "product_not_found"),
        ("POST", "/products/999/skus", sku_body("Z"), "product_not_found"),
        ("GET", "/skus/999", None, "sku_not_found"),
        ("PATCH", "/skus/999", {"title": "Z"}, "sku_not_found"),
        ("GET", "/skus/999/stock", None, "sku_not_found"),
        ("PUT", f"/skus/{sku_id}/stock/999", {"on_hand": 1}, "warehouse_not_found"),
        ("POST", "/products", product_body(999, supplier_id), "brand_not_found"),
        ("POST", "/products", product_body(brand["id"], 999), "supplier_not_found"),
        ("PATCH", f"/products/{product['id']}", {"brand_id": 999}, "brand_not_found"),
    ]
    for method, path, body, code in calls:
        response = await client.request(method, f"{API}{path}", headers=op, json=body)
        assert (response.status_code, response.json()["code"]) == (404, code), (method, path)
    assert await count(ctx, products) == 1


async def test_duplicates_are_409_and_write_nothing_more(client: httpx.AsyncClient, ctx: Context) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op, "Aptamil")
    other_brand = await new_brand(client, op, "Nivea")
    supplier = await created(client, "/suppliers", op, {"name": "Maison", "country": "FR"})
    await new_warehouse(client, op, "NB-1")
    product = await new_product(client, op, brand["id"], supplier["id"], skus=[sku_body("APT-1")])
    tables = (brands, suppliers, warehouses, products, skus, outbox)
    before = [await count(ctx, t) for t in tables]

    bonded = {
        "code": "nb-1",
        "name": "N",
        "kind": "bonded",
        "customs_district": "3105",
        "area_code": "3105W60001",
    }
    # The last product is valid but its second SKU's code is taken: neither it nor its first SKU stays.
    half_new = product_body(brand["id"], supplier["id"], skus=[sku_body("NEW-1"), sku_body("APT-1")])
    clashes = [
        ("POST", "/brands", {"name": "APTAMIL", "country": "DE"}, "brand_name_taken"),
        ("PATCH", f"/brands/{other_brand['id']}", {"name": "aptamil"}, "brand_name_taken"),
        ("POST", "/suppliers", {"name": "maison", "country": "FR"}, "supplier_name_taken"),
        ("POST", "/warehouses", bonded, "warehouse_code_taken"),
        ("POST", f"/products/{product['id']}/skus", sku_body("APT-1"), "sku_code_taken"),
        ("POST", "/products", half_new, "sku_code_taken"),
    ]
    for method, path, body, code in clashes:
        response = await client.request(method, f"{API}{path}", headers=op, json=body)
        assert (response.status_code, response.json()["code"]) == (409, code), response.text
    assert [await count(ctx, t) for t in tables] == before

    repeated = await client.post(
        f"{API}/products",
        headers=op,
        json=product_body(brand["id"], supplier["id"], skus=[sku_body("B"), sku_body("B")]),
    )
    assert repeated.status_code == 422
    assert error_fields(repeated) == {"skus.1.code"}


# --- stock -----------------------------------------------------------------------------------------


async def stocked_sku(client: httpx.AsyncClient, ctx: Context, op: Headers) -> tuple[int, int, str]:
    """A SKU with 100 units on hand in a bonded warehouse: (sku id, warehouse id, stock URL)."""
    brand = await new_brand(client, op)
    product = await new_product(client, op, brand["id"], await make_supplier(ctx), skus=[sku_body()])
    sku_id, warehouse_id = product["skus"][0]["id"], (await new_warehouse(client, op))["id"]
    url = f"{API}/skus/{sku_id}/stock/{warehouse_id}"
    assert (await client.put(url, headers=op, json={"on_hand": 100})).status_code == 200
    return sku_id, warehouse_id, url


async def test_stock_is_counted_per_warehouse_with_free_units(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    sku_id, warehouse_id, url = await stocked_sku(client, ctx, op)
    overseas = await created(
        client, "/warehouses", op, {"code": "FR-1", "name": "Lyon", "kind": "overseas", "country": "FR"}
    )
    await client.put(f"{API}/skus/{sku_id}/stock/{overseas['id']}", headers=op, json={"on_hand": 7})
    await set_allotted(ctx, sku_id, warehouse_id, 30)

    listed = await client.get(f"{API}/skus/{sku_id}/stock", headers=op)
    assert listed.status_code == 200
    assert [(s["warehouse_code"], s["on_hand"], s["allotted"], s["free"]) for s in listed.json()] == [
        ("NB-1", 100, 30, 70),
        ("FR-1", 7, 0, 7),
    ]
    lowered = await client.put(url, headers=op, json={"on_hand": 40})
    assert (lowered.json()["on_hand"], lowered.json()["allotted"], lowered.json()["free"]) == (40, 30, 10)
    negative = await client.put(url, headers=op, json={"on_hand": -1})
    assert negative.status_code == 422
    assert error_fields(negative) == {"on_hand"}


async def test_stock_below_allotted_is_409_and_changes_nothing(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    sku_id, warehouse_id, url = await stocked_sku(client, ctx, op)
    await set_allotted(ctx, sku_id, warehouse_id, 30)
    before = await count(ctx, outbox)

    refused = await client.put(url, headers=op, json={"on_hand": 29})
    assert refused.status_code == 409
    assert refused.json()["code"] == "stock_below_allotted"
    assert (await client.get(f"{API}/skus/{sku_id}/stock", headers=op)).json()[0]["on_hand"] == 100
    assert await count(ctx, outbox) == before

    exact = await client.put(url, headers=op, json={"on_hand": 30})
    assert (exact.status_code, exact.json()["free"]) == (200, 0)


async def test_concurrent_counts_never_leave_allotted_above_on_hand(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    sku_id, warehouse_id, url = await stocked_sku(client, ctx, op)
    await set_allotted(ctx, sku_id, warehouse_id, 50)
    pair = (stock.c.sku_id == sku_id, stock.c.warehouse_id == warehouse_id)

    async def allot_ten_more() -> None:
        """A sale item taking ten units, guarded as the event services guard it."""
        async with ctx.transaction() as tx:
            await tx.conn.execute(
                stock.update()
                .where(*pair, stock.c.allotted + 10 <= stock.c.on_hand)
                .values(allotted=stock.c.allotted + 10)
            )

    answers: list[httpx.Response] = []
    for round_ in range(8):
        counts = [client.put(url, headers=op, json={"on_hand": n}) for n in (45, 120 - round_, 60 + round_)]
        results = await asyncio.gather(*counts, allot_ten_more())
        answers += [r for r in results if isinstance(r, httpx.Response)]
        async with ctx.read() as conn:
            row = (await conn.execute(sa.select(stock.c.on_hand, stock.c.allotted).where(*pair))).one()
        assert 50 <= row.allotted <= row.on_hand

    statuses = {r.status_code for r in answers}
    assert statuses <= {200, 409}, [r.text for r in answers if r.status_code not in (200, 409)]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"stock_below_allotted"}
    assert 409 in statuses  # 45 is always below the 50+ allotted


# --- the event log ---------------------------------------------------------------------------------


async def test_every_change_writes_one_outbox_event_of_the_right_type(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    await client.patch(f"{API}/brands/{brand['id']}", headers=op, json={"country": "NL"})
    supplier = await created(client, "/suppliers", op, {"name": "Maison", "country": "FR"})
    warehouse = await new_warehouse(client, op)
    product = await new_product(client, op, brand["id"], supplier["id"])
    await client.patch(f"{API}/products/{product['id']}", headers=op, json={"hs_code": "0402210000"})
    sku = await created(client, f"/products/{product['id']}/skus", op, sku_body())
    await client.patch(f"{API}/skus/{sku['id']}", headers=op, json={"original_price": "119.00"})
    url = f"{API}/skus/{sku['id']}/stock/{warehouse['id']}"
    await client.put(url, headers=op, json={"on_hand": 10})
    await client.put(url, headers=op, json={"on_hand": 25})

    log = await events(ctx)
    assert [(e["type"], e["subject"]) for e in log] == [
        ("brand.created", f"brand:{brand['id']}"),
        ("brand.updated", f"brand:{brand['id']}"),
        ("supplier.created", f"supplier:{supplier['id']}"),
        ("warehouse.created", f"warehouse:{warehouse['id']}"),
        ("product.created", f"product:{product['id']}"),
        ("product.updated", f"product:{product['id']}"),
        ("sku.created", f"sku:{sku['id']}"),
        ("sku.updated", f"sku:{sku['id']}"),
        ("stock.changed", f"stock:{sku['id']}:{warehouse['id']}"),
        ("stock.changed", f"stock:{sku['id']}:{warehouse['id']}"),
    ]
    assert log[1]["payload"]["changed"] == ["country"]
    assert log[7]["payload"]["original_price_fen"] == 11900
    assert log[-1]["payload"] == {
        "sku_id": sku["id"],
        "warehouse_id": warehouse["id"],
        "supplier_id": supplier["id"],
        "on_hand": 25,
        "allotted": 0,
        "previous_on_hand": 10,
    }


async def test_changes_that_change_nothing_write_no_event(client: httpx.AsyncClient, ctx: Context) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    sku_id, _, url = await stocked_sku(client, ctx, op)
    product_id = (await client.get(f"{API}/skus/{sku_id}", headers=op)).json()["product_id"]
    before = await count(ctx, outbox)
    assert (await client.put(url, headers=op, json={"on_hand": 100})).status_code == 200
    assert (
        await client.patch(f"{API}/skus/{sku_id}", headers=op, json={"original_price": 129})
    ).status_code == 200
    assert (
        await client.patch(f"{API}/products/{product_id}", headers=op, json={"origin_country": "de"})
    ).status_code == 200
    assert await count(ctx, outbox) == before


async def test_a_product_created_with_skus_logs_the_product_then_each_sku(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    before = await count(ctx, outbox)
    await new_product(client, op, brand["id"], await make_supplier(ctx), skus=[sku_body("A"), sku_body("B")])
    log = (await events(ctx))[before:]
    assert [e["type"] for e in log] == ["product.created", "sku.created", "sku.created"]
    assert log[0]["payload"]["sku_codes"] == ["A", "B"]
