"""The catalogue bundled with Bussola (or any local HSDS folder), served in-process."""

from __future__ import annotations

from catalog_client.matching import match
from catalog_client.store import CatalogStore
from catalog_client.types import CatalogStatus, Match, MatchQuery, ServiceCard


class EmbeddedCatalog:
    """``Catalog`` over a ``CatalogStore`` in this process.

    It reads the store on every call, so a record replaced from the console is used at once.
    """

    source = "embedded"

    def __init__(self, store: CatalogStore) -> None:
        self.store = store

    async def match(self, query: MatchQuery) -> list[Match]:
        return match(self.store.index, self.store.terms, query)

    async def get(self, service_id: str) -> ServiceCard | None:
        return self.store.card(service_id)

    async def status(self) -> CatalogStatus:
        return CatalogStatus(source=self.source, data_as_of=self.store.data_as_of)
