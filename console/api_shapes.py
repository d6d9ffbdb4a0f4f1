"""The reference engine's JSON shapes (spec §3) for libraries, items and hits, as pure functions."""

from __future__ import annotations

from typing import Any

from memory_core.models import Character, ItemEvent, Library, MemoryItem, TaughtExample
from memory_core.recall.lexical import ScoredMemory


def library_to_api(library: Library) -> dict[str, Any]:
    return {
        "id": library.id,
        "name": library.name,
        "profile_id": library.profile_id,
        "character_id": library.character_id,
        "memory_count": library.memory_count,
        "created_at": library.created_at,
        "updated_at": library.updated_at,
    }


def example_to_api(example: TaughtExample) -> dict[str, Any]:
    """A taught example without its vector (the model that made it is named)."""
    return {
        "id": example.id,
        "profile_id": example.owner,
        "character_id": example.character_id,
        "text": example.text,
        "should_recall": example.should_recall,
        "model": example.model,
        "created_at": example.created_at,
    }


def item_to_api(item: MemoryItem) -> dict[str, Any]:
    """The reference's {id, text, type, metadata, created_at}, plus our first-class fields.

    Reference clients read category, confidence and source from metadata, so they are mirrored there
    unless the metadata already has its own.
    """
    metadata = {"category": item.category, "confidence": item.confidence, "source": item.source}
    metadata = {k: v for k, v in metadata.items() if v} | dict(item.metadata)
    return {
        "id": item.id,
        "text": item.text,
        "type": item.type,
        "metadata": metadata,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "category": item.category,
        "confidence": item.confidence,
        "source": item.source,
        "library_id": item.library_id,
    }


def hit_to_api(hit: ScoredMemory) -> dict[str, Any]:
    return {
        "rank": hit.rank,
        "item": item_to_api(hit.item),
        "score": hit.score,
        "bm25": hit.bm25,
        "entity_boost": hit.entity_boost,
        "name_boost": hit.name_boost,
        "category_boost": hit.category_boost,
        "matched_terms": list(hit.matched_terms),
        "matched_entities": list(hit.matched_entities),
    }


def character_to_api(character: Character) -> dict[str, Any]:
    return {
        "id": character.id,
        "name": character.name,
        "persona": character.persona,
        "created_at": character.created_at,
        "updated_at": character.updated_at,
    }


def event_to_api(event: ItemEvent) -> dict[str, Any]:
    """One entry of an item's history; before/after are the item's export form at that moment."""
    return {
        "seq": event.seq,
        "item_id": event.item_id,
        "event": event.event,
        "at": event.at,
        "source": event.source,
        "before": event.before,
        "after": event.after,
    }
