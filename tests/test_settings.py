"""Settings: the reference's names and defaults, `.env` files, and clear errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory_core import ConfigurationError, Tuning, load_settings
from memory_core.settings import KNOWN_VARIABLES


def test_defaults() -> None:
    settings = load_settings({})
    tuning = settings.tuning()
    assert tuning.decision_mode == "rule"  # the seed's documented default
    assert (tuning.recall_limit, tuning.recall_min_score, tuning.recall_timeout_ms) == (5, 0.0, 2000)
    assert (tuning.recall_backend, tuning.write_mode, tuning.decision_timeout_ms) == ("hybrid", "hybrid", 2000)
    assert (tuning.summary_turn_window, tuning.summary_max_items, tuning.summary_enabled) == (8, 3, True)
    assert settings.memory_enabled is False
    assert settings.effective_provider == "sqlite"
    assert settings.database_path == Path("data/opentalking_memory.sqlite3")


def test_environment_values_are_parsed() -> None:
    settings = load_settings(
        {
            "OPENTALKING_MEMORY_DECISION_MODE": "LLM",
            "opentalking_memory_recall_limit": "7",  # names are case-insensitive, as in the reference
            "OPENTALKING_MEMORY_SUMMARY_ENABLED": "off",
            "OPENTALKING_MEMORY_PROVIDER": "local",
            "MEMTUNE_DATA_DIR": "/srv/memtune",
            "OPENTALKING_MEMORY_DECISION_TIMEOUT_MS": "0",
        }
    )
    tuning = settings.tuning()
    assert (tuning.decision_mode, tuning.recall_limit, tuning.summary_enabled) == ("llm", 7, False)
    assert tuning.decision_timeout_ms == 800  # the reference's runtime value for 0
    assert settings.effective_provider == "sqlite"
    assert settings.database_path == Path("/srv/memtune/opentalking_memory.sqlite3")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPENTALKING_MEMORY_DECISION_MODE", "fuzzy"),
        ("OPENTALKING_MEMORY_RECALL_LIMIT", "five"),
        ("OPENTALKING_MEMORY_RECALL_LIMIT", "0"),
        ("OPENTALKING_MEMORY_RECALL_MIN_SCORE", "nan"),
        ("OPENTALKING_MEMORY_ENABLED", "maybe"),
        ("OPENTALKING_MEMORY_PROVIDER", "redis"),
        ("MEMTUNE_INJECTION_STYLE", "xml"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        load_settings({name: value})


def test_dotenv_file_fills_in_under_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("OPENTALKING_MEMORY_RECALL_LIMIT=9\nOPENTALKING_MEMORY_WRITE_MODE=raw\n", encoding="utf-8")
    settings = load_settings({"OPENTALKING_ENV_FILE": str(env_file), "OPENTALKING_MEMORY_WRITE_MODE": "hybrid"})
    assert settings.tuning().recall_limit == 9
    assert settings.tuning().write_mode == "hybrid"  # the environment wins over the file
    assert settings.env_file == str(env_file)


def test_unknown_variables_are_reported() -> None:
    settings = load_settings({"OPENTALKING_MEMORY_RECAL_LIMIT": "3", "UNRELATED": "x"})
    assert settings.unknown_variables == ("OPENTALKING_MEMORY_RECAL_LIMIT",)


def test_pipecat_pile_up_and_the_always_mode() -> None:
    tuning = load_settings({"MEMTUNE_PIPECAT_PILE_UP": "true", "OPENTALKING_MEMORY_DECISION_MODE": "always"}).tuning()
    assert (tuning.pipecat_pile_up, tuning.decision_mode) == (True, "always")
    assert not tuning.piles_up  # only in the pipecat style
    assert tuning.with_changes(injection_style="pipecat").piles_up
    assert Tuning().pipecat_pile_up is False and Tuning().as_env()["MEMTUNE_PIPECAT_PILE_UP"] == "false"
    with pytest.raises(ConfigurationError, match="MEMTUNE_PIPECAT_PILE_UP"):
        load_settings({"MEMTUNE_PIPECAT_PILE_UP": "maybe"})


def test_tuning_changes_are_validated_and_exportable() -> None:
    tuning = Tuning().with_changes(recall_limit="8", injection_style="pipecat", summary_enabled=False)
    assert (tuning.recall_limit, tuning.injection_style, tuning.summary_enabled) == (8, "pipecat", False)
    with pytest.raises(ConfigurationError, match="OPENTALKING_MEMORY_RECALL_LIMIT"):
        tuning.with_changes(recall_limit=0)
    with pytest.raises(ConfigurationError, match="unknown tuning knob"):
        tuning.with_changes(limit=3)
    env = tuning.as_env()
    assert env["OPENTALKING_MEMORY_RECALL_LIMIT"] == "8"
    assert env["OPENTALKING_MEMORY_SUMMARY_ENABLED"] == "false"
    assert load_settings(env).tuning() == tuning  # the exported values read back to the same knobs


def test_env_example_lists_every_variable_with_its_default() -> None:
    example = Path(__file__).resolve().parents[1] / ".env.example"
    text = example.read_text(encoding="utf-8")
    for name in KNOWN_VARIABLES:
        assert f"{name}=" in text, f"{name} is missing from .env.example"
    assert load_settings({"OPENTALKING_ENV_FILE": str(example)}).tuning() == load_settings({}).tuning()


def test_a_negative_bm25_minimum_is_refused_before_it_lets_every_memory_through() -> None:
    with pytest.raises(ConfigurationError, match=r"OPENTALKING_MEMORY_RECALL_MIN_SCORE\) must be between 0\.0"):
        Tuning().with_changes(recall_min_score=-5)
    with pytest.raises(ConfigurationError):
        load_settings({"OPENTALKING_MEMORY_RECALL_MIN_SCORE": "-5"})
    assert Tuning().with_changes(recall_min_score=0).recall_min_score == 0.0
