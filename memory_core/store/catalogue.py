"""Characters, whole profiles and the meta table's small facts."""

from __future__ import annotations

from ..errors import InvalidInputError, NotFoundError
from ..models import MAX_PERSONA_LENGTH, Character, check_id, check_text
from .base import StoreBase
from .rows import _SELECT_CHARACTERS, _character, _library_name, _profile_items


class CatalogueMixin(StoreBase):
    """Characters (shared or owned by a profile), profiles as a whole, and the meta table."""

    def save_character(self, character_id: str, name: str, persona: str, *, owner: str = "") -> Character:
        """Create or update a character (everyone's, or one profile's own); its memories are untouched."""
        character_id = check_id(character_id, what="character_id")
        name = _library_name(name, default=character_id)
        if not isinstance(persona, str) or len(persona) > MAX_PERSONA_LENGTH:
            raise InvalidInputError(f"persona must be text of at most {MAX_PERSONA_LENGTH} characters")
        persona = check_text(persona, what="persona")
        now = self._clock()
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO characters (owner, id, name, persona, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (owner, id) DO UPDATE SET name = excluded.name, persona = excluded.persona, "
                "updated_at = excluded.updated_at",
                (owner, character_id, name, persona.strip(), now, now),
            )
            return _character(conn, owner, character_id)

    def get_character(self, character_id: str, *, owner: str = "") -> Character:
        with self._reading() as conn:
            return _character(conn, owner, check_id(character_id, what="character_id"))

    def list_characters(self, *, owner: str = "") -> tuple[Character, ...]:
        """The characters of one owner ('' is the shared catalogue)."""
        with self._reading() as conn:
            rows = conn.execute(f"{_SELECT_CHARACTERS} WHERE owner = ? ORDER BY name, id", (owner,)).fetchall()
        return tuple(Character(*row) for row in rows)

    def delete_character(self, character_id: str, *, owner: str = "") -> None:
        """Remove a character from the catalogue; memories stored for it stay in their libraries."""
        character_id = check_id(character_id, what="character_id")
        with self._writing() as conn:
            gone = conn.execute("DELETE FROM characters WHERE owner = ? AND id = ?", (owner, character_id))
            if gone.rowcount == 0:
                raise NotFoundError(f"character {character_id!r} not found")

    def count_profile_items(self, profile_id: str) -> int:
        """How many items a profile holds across all its libraries and characters."""
        with self._reading() as conn:
            return _profile_items(conn, check_id(profile_id, what="profile_id"))

    def purge_profile(self, profile_id: str) -> int:
        """Delete everything a profile owns (history, vectors and taught examples included) in one transaction;
        returns the number of items deleted. For swept sandboxes: nothing of theirs is left behind."""
        profile_id = check_id(profile_id, what="profile_id")
        with self._writing() as conn:
            count = _profile_items(conn, profile_id)
            for table in ("item_vectors", "items", "item_events", "libraries"):
                conn.execute(f"DELETE FROM {table} WHERE profile_id = ?", (profile_id,))
            for table in ("characters", "taught_examples"):
                conn.execute(f"DELETE FROM {table} WHERE owner = ?", (profile_id,))
        return count

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every meta entry whose key starts with ``prefix``."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._reading() as conn:
            rows = conn.execute("SELECT key, value FROM meta WHERE key LIKE ? ESCAPE '\\'", (pattern,)).fetchall()
        return {str(key): str(value) for key, value in rows}

    def delete_meta(self, key: str) -> None:
        with self._writing() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def get_meta(self, key: str) -> str | None:
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                         (key, value, value))  # fmt: skip
