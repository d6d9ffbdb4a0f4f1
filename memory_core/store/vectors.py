"""Stored vectors of items, per embedding model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from ..models import Scope
from .base import StoreBase
from .rows import _IN_LIBRARY, _checked, _key

_CHUNK = 4096  # rows per fetch: the blobs of one chunk are alive at a time, beside the matrix


@dataclass(frozen=True, eq=False)
class StoredVectors:
    """A library's stored vectors for one model: row n of `matrix` is item `ids[n]`, whose text hashed to `hashes[n]`.

    `matrix` is one C-contiguous float32 array of shape (len(ids), dims), ordered by item id."""

    ids: tuple[str, ...]
    hashes: tuple[str, ...]
    matrix: npt.NDArray[np.float32]


def _fill(matrix: npt.NDArray[np.float32], start: int, blobs: list[bytes]) -> None:
    rows = np.frombuffer(b"".join(blobs), dtype=np.float32)
    if rows.size != len(blobs) * matrix.shape[1]:
        raise InvalidInputError(f"stored vectors of one model differ in size (expected {matrix.shape[1]} floats)")
    matrix[start : start + len(blobs)] = rows.reshape(len(blobs), matrix.shape[1])


class VectorsMixin(StoreBase):
    """Item vectors per embedding model (the dense index keeps them in step)."""

    def vectors(self, scope: Scope, model: str) -> dict[str, tuple[str, bytes]]:
        """Stored vectors of the library for one model: item id -> (text hash, float32 bytes)."""
        scope = _checked(scope)
        query = f"SELECT item_id, text_hash, vector FROM item_vectors WHERE {_IN_LIBRARY} AND model = ?"
        with self._reading() as conn:
            rows = conn.execute(query, (*_key(scope), model)).fetchall()
        return {row[0]: (row[1], bytes(row[2])) for row in rows}

    def vector_matrix(self, scope: Scope, model: str, dims: int) -> StoredVectors:
        """Every stored vector of the library for one model in one float32 matrix (one read, no per-row arrays)."""
        scope = _checked(scope)
        where = f"FROM item_vectors WHERE {_IN_LIBRARY} AND model = ?"
        params = (*_key(scope), model)
        ids: list[str] = []
        hashes: list[str] = []
        with self._reading() as conn:
            count = int(conn.execute(f"SELECT COUNT(*) {where}", params).fetchone()[0])
            matrix = np.empty((count, dims), dtype=np.float32)
            cursor = conn.execute(f"SELECT item_id, text_hash, vector {where} ORDER BY item_id", params)
            while rows := cursor.fetchmany(_CHUNK):
                _fill(matrix, len(ids), [row[2] for row in rows])
                ids.extend(row[0] for row in rows)
                hashes.extend(row[1] for row in rows)
        return StoredVectors(tuple(ids), tuple(hashes), matrix)

    def put_vectors(self, scope: Scope, model: str, dims: int, rows: Sequence[tuple[str, str, bytes]]) -> int:
        """Store (item id, text hash, vector bytes) rows; rows of items deleted meanwhile are skipped."""
        scope = _checked(scope)
        insert = (
            "INSERT INTO item_vectors (profile_id, character_id, library_id, item_id, model, dims, text_hash, vector) "
            f"SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM items WHERE {_IN_LIBRARY} AND id = ?) "
            "ON CONFLICT (profile_id, character_id, library_id, item_id, model) DO UPDATE SET "
            "dims = excluded.dims, text_hash = excluded.text_hash, vector = excluded.vector"
        )
        key = _key(scope)
        with self._writing() as conn:
            written = conn.executemany(insert, [(*key, item_id, model, dims, digest, blob, *key, item_id)
                                                for item_id, digest, blob in rows])  # fmt: skip
            return max(written.rowcount, 0)

    def vector_counts(self, scope: Scope) -> dict[str, int]:
        """How many items of the library have vectors, per embedding model."""
        scope = _checked(scope)
        query = f"SELECT model, COUNT(*) FROM item_vectors WHERE {_IN_LIBRARY} GROUP BY model"
        with self._reading() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query, _key(scope)).fetchall()}
