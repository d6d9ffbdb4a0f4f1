"""Stored vectors of items, per embedding model."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import Scope
from .base import StoreBase
from .rows import _IN_LIBRARY, _checked, _key


class VectorsMixin(StoreBase):
    """Item vectors per embedding model (the dense index keeps them in step)."""

    def vectors(self, scope: Scope, model: str) -> dict[str, tuple[str, bytes]]:
        """Stored vectors of the library for one model: item id -> (text hash, float32 bytes)."""
        scope = _checked(scope)
        query = f"SELECT item_id, text_hash, vector FROM item_vectors WHERE {_IN_LIBRARY} AND model = ?"
        with self._reading() as conn:
            rows = conn.execute(query, (*_key(scope), model)).fetchall()
        return {row[0]: (row[1], bytes(row[2])) for row in rows}

    def put_vectors(self, scope: Scope, model: str, dims: int, rows: Sequence[tuple[str, str, bytes]]) -> int:
        """Store (item id, text hash, vector bytes) rows; rows of items deleted meanwhile are skipped."""
        scope = _checked(scope)
        insert = (
            "INSERT OR REPLACE INTO item_vectors "
            "(profile_id, character_id, library_id, item_id, model, dims, text_hash, vector) "
            f"SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM items WHERE {_IN_LIBRARY} AND id = ?)"
        )
        key = _key(scope)
        with self._writing() as conn:
            before = conn.total_changes
            conn.executemany(insert, [(*key, item_id, model, dims, digest, blob, *key, item_id)
                                      for item_id, digest, blob in rows])  # fmt: skip
            return conn.total_changes - before

    def vector_counts(self, scope: Scope) -> dict[str, int]:
        """How many items of the library have vectors, per embedding model."""
        scope = _checked(scope)
        query = f"SELECT model, COUNT(*) FROM item_vectors WHERE {_IN_LIBRARY} GROUP BY model"
        with self._reading() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query, _key(scope)).fetchall()}
