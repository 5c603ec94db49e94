"""The positive list of goods allowed in cross-border retail import (跨境电子商务零售进口商品清单):
which edition is in force, what it says of an HS code, and loading a new edition.

The package ships an edition (``adapters/reference/positive_list.csv``, its origin noted there); an
edition an operator loads through the API replaces it, and every loaded edition stays on record. A
product is checked against the edition in force when it is created and whenever its HS code changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import positive_list_repo as repo
from flashport.adapters.reference import packaged_positive_list
from flashport.domain import customs_goods as goods
from flashport.domain.accounts import Principal
from flashport.domain.errors import Conflict
from flashport.services.context import Context


@dataclass(frozen=True)
class EditionView:
    """An edition as the API shows it: where it comes from, whether it was shipped in the package
    (``packaged``) or loaded by an operator, and its goods in HS-code order."""

    edition: str
    source: str
    packaged: bool
    goods: tuple[goods.ListedGoods, ...]


async def listed_goods(conn: AsyncConnection, hs_code: str) -> tuple[goods.ListedGoods | None, str]:
    """The line of the edition in force for ``hs_code`` (None when it is not listed), and the
    edition's name (for the error message)."""
    newest = await repo.newest_edition(conn)
    if newest is None:
        packaged = packaged_positive_list()
        return packaged.goods.get(hs_code), packaged.edition
    edition_id, edition, _ = newest
    return await repo.listed(conn, edition_id, hs_code), edition


async def require_listed(conn: AsyncConnection, hs_code: str, given_unit: str | None) -> goods.ListedGoods:
    """The HS code's line, or 422 ``hs_code_not_on_positive_list``; and a legal unit given that is not
    the code's first legal unit is 422 ``legal_unit_mismatch``."""
    line, edition = await listed_goods(conn, hs_code)
    if line is None:
        raise goods.not_on_positive_list(hs_code, edition)
    goods.resolve_legal_unit(line, given_unit, edition)
    return line


async def current_edition(ctx: Context) -> EditionView:
    async with ctx.read() as conn:
        newest = await repo.newest_edition(conn)
        if newest is None:
            packaged = packaged_positive_list()
            return EditionView(packaged.edition, packaged.source, True, _sorted(packaged.goods))
        edition_id, edition, source = newest
        return EditionView(edition, source, False, _sorted(await repo.goods_of(conn, edition_id)))


async def load_edition(
    ctx: Context, who: Principal, *, edition: str, source: str, lines: Iterable[Mapping[str, object]]
) -> EditionView:
    """Put a new edition in force (operators only; the route checks the role). Products already in
    the catalog are not changed: the new edition applies to products created or re-coded from now."""
    checked = goods.positive_list(edition, source, lines)
    async with ctx.transaction() as tx:
        try:
            await repo.insert_edition(tx.conn, checked, tx.now)
        except repo.EditionTaken:
            raise Conflict(
                f"edition {checked.edition} is loaded already", code="positive_list_edition_taken"
            ) from None
        payload = {"edition": checked.edition, "codes": len(checked.goods), "by": who.user_id}
        await tx.emit("positive_list.loaded", f"positive_list:{checked.edition}", payload)
    return EditionView(checked.edition, checked.source, False, _sorted(checked.goods))


def _sorted(entries: Mapping[str, goods.ListedGoods]) -> tuple[goods.ListedGoods, ...]:
    return tuple(entries[code] for code in sorted(entries))
