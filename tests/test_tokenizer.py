from __future__ import annotations

import threading

from memory_core.recall.tokenizer import STOPWORDS, cjk_bigrams, filter_entities, stem, tokenize, word_terms


def test_chinese_runs_become_overlapping_bigrams() -> None:
    assert cjk_bigrams("服务器") == ["服务", "务器"]
    assert cjk_bigrams("中") == ["中"]
    assert tokenize("喜欢咖啡") == ["喜欢", "欢咖", "咖啡"]


def test_server_alias_gives_whole_alias_number_and_bigrams_but_not_the_whole_run() -> None:
    tokens = tokenize("146服务器上部署")
    assert tokens == ["146服务器", "146", "服务", "务器", "器上", "上部", "部署"]
    assert "146服务器上部署" not in tokens


def test_english_server_alias_maps_to_the_same_canonical_token() -> None:
    assert {"146服务器", "146"} <= set(tokenize("deploy on server 146"))
    assert filter_entities("deploy on server 146") == filter_entities("在146服务器上部署") == {"146服务器"}


def test_mixed_script_runs_split_at_the_boundary() -> None:
    assert tokenize("abc中文") == ["abc", "中文"]
    assert tokenize("gpt4模型") == ["gpt", "4", "模型"]


def test_ipv4_whole_plus_octets_once_each() -> None:
    tokens = tokenize("ssh to 10.0.0.12 now")
    assert tokens[0] == "10.0.0.12"
    assert [t for t in tokens if t.isdigit()] == ["10", "0", "0", "12"]


def test_path_whole_plus_its_words() -> None:
    tokens = tokenize("check /var/log/nginx/error.log please")
    assert "/var/log/nginx/error.log" in tokens
    assert {"var", "log", "nginx", "error"} <= set(tokens)


def test_stopwords_dropped_and_words_stemmed() -> None:
    assert tokenize("What are the runners running at the races?") == ["runner", "run", "race"]
    assert tokenize("Caroline's dogs") == [stem("caroline"), "dog"]


def test_contractions_split_and_negations_kept() -> None:
    assert word_terms("don't") == ["not"]
    assert word_terms("can't") == ["not"]
    assert word_terms("o'brien") == ["o", "brien"]
    assert tokenize("I'm not going, no") == ["not", "go", "no"]
    assert {"not", "no", "never", "nor"}.isdisjoint(STOPWORDS)


def test_stopword_list_covers_function_words() -> None:
    assert 100 <= len(STOPWORDS) <= 150
    assert {"the", "she", "would", "between", "because", "which"} <= STOPWORDS
    assert all(word == word.lower() for word in STOPWORDS)


def test_full_width_digits_and_curly_apostrophes_are_normalised() -> None:
    assert tokenize("１４６号服务器")[:2] == ["146服务器", "146"]
    assert tokenize("Caroline’s") == tokenize("Caroline's")


def test_case_is_folded_and_output_is_deterministic() -> None:
    text = "Melanie painted a SUNRISE at 7am; 她喜欢画画 on 2023-05-08"
    assert tokenize(text) == tokenize(text) == tokenize(text.lower())
    assert tokenize("") == []
    assert tokenize("   ,.!?") == []


def test_stemming_is_safe_across_threads() -> None:
    words = [f"{base}{suffix}" for base in ("connect", "run", "paint", "happy") for suffix in ("", "ing", "ed", "s")]
    expected = {w: stem(w) for w in words}
    results: list[bool] = []

    def work() -> None:
        for _ in range(50):
            stem.cache_clear()
            results.append(all(stem(w) == expected[w] for w in words))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results)
