"""The demo character and library a first visitor can chat with at once: clearly marked, removable.

Seeded once per database; deleting them is respected (a marker in the store's meta table says the
demo was seeded, so it never comes back on its own).
"""

from __future__ import annotations

from .models import NewItem, Scope, utc_timestamp
from .store.protocol import Store

DEMO_CHARACTER_ID = "demo"
DEMO_LIBRARY_ID = "demo"
DEMO_PROFILE_ID = "default"
DEMO_MARKER = "demo_seeded_at"
DEMO_NAME = "Mia (demo)"
DEMO_LIBRARY_NAME = "Demo library: sample memories, delete any time"
DEMO_PERSONA = (
    "You are Mia, a warm and concise companion who remembers what the user shares and uses it naturally. "
    "Answer in the user's language. (Demo character: delete it any time.)"
)
DEMO_MEMORIES = (
    ("我喜欢喝乌龙茶，不加糖", "preference", "user_preference"),
    ("I prefer concise answers without emoji", "preference", "user_preference"),
    ("我妹妹叫安娜，住在里斯本", "fact", "entity_relation"),
    ("My dog is called Biscuit, a three-year-old beagle", "fact", "entity_relation"),
    ("My goal is to run a half marathon in March", "fact", "goal_progress"),
    ("每天晚上九点复习雅思口语", "fact", "decision_plan"),
    ("146服务器是测试环境，部署前要先备份", "fact", "entity_relation"),
    ("Please don't call me buddy", "note", "feedback_correction"),
    ("上周聊了工作压力和跑步计划，用户想早点睡", "summary", "episode_summary"),
)


def demo_scope() -> Scope:
    return Scope.of(DEMO_PROFILE_ID, DEMO_CHARACTER_ID, DEMO_LIBRARY_ID)


def seed_demo(store: Store) -> bool:
    """Create the demo character and library unless they were seeded before; True when seeded now."""
    if store.get_meta(DEMO_MARKER) is not None:
        return False
    _seed(store, DEMO_PROFILE_ID, owner="")
    store.set_meta(DEMO_MARKER, utc_timestamp())
    return True


def seed_sandbox(store: Store, profile_id: str) -> None:
    """Give a new sandbox its own copy of the demo: the character (owned by the sandbox) and its library."""
    _seed(store, profile_id, owner=profile_id)


def _seed(store: Store, profile_id: str, *, owner: str) -> None:
    store.save_character(DEMO_CHARACTER_ID, DEMO_NAME, DEMO_PERSONA, owner=owner)
    items = [
        NewItem(text, item_type, category, "high", "demo", {"demo": True})
        for text, item_type, category in DEMO_MEMORIES
    ]
    scope = Scope.of(profile_id, DEMO_CHARACTER_ID, DEMO_LIBRARY_ID)
    store.add_items(scope, items, source="demo", on_conflict="skip", create_library_name=DEMO_LIBRARY_NAME)
