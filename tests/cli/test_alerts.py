"""`spectra alerts channels|rules|test|history|events` both ways (in process and with --server),
with the test message delivered by the served process's outbox job to a real HTTP receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.cli.conftest import Cli


@contextmanager
def receiver() -> Iterator[tuple[list[dict[str, object]], str]]:
    hits: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            hits.append({"path": self.path, "body": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hits, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_alert_commands_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    with receiver() as (hits, url):
        local, _ = cli.both(
            [
                "alerts",
                "channels",
                "add",
                "--kind",
                "slack",
                "--target",
                f"{url}/a",
                "--name",
                "ops-a",
                "--json",
            ],
            [
                "alerts",
                "channels",
                "add",
                "--kind",
                "slack",
                "--target",
                f"{url}/b",
                "--name",
                "ops-b",
                "--json",
            ],
            names=("ops-a", "ops-b"),
        )
        assert local["target_hint"].endswith("/…")
        assert "/a" not in local["target_hint"]
        listed, _ = cli.both(["alerts", "channels", "list", "--json"])
        assert sorted(c["name"] for c in listed["items"]) == ["ops-a", "ops-b"]
        cli.both(
            [
                "alerts",
                "rules",
                "add",
                "--event",
                "group_cap",
                "--threshold",
                "80",
                "--channel",
                "ops-a",
                "--json",
            ],
            [
                "alerts",
                "rules",
                "add",
                "--event",
                "group_cap",
                "--threshold",
                "80",
                "--channel",
                "ops-b",
                "--json",
            ],
            names=("ops-a", "ops-b"),
        )
        rules = cli.ok("alerts", "rules", "list", "--json")["items"]
        assert [(r["event"], r["threshold_percent"]) for r in rules] == [("group_cap", 80)] * 2
        events = cli.ok("alerts", "events", "--json")["items"]
        assert "group_cap" in [e["name"] for e in events]
        queued = cli.remote("alerts", "test", "ops-b", "--json")
        assert queued.code == 0, queued.err
        assert queued.json["status"] == "pending"
        deadline = time.monotonic() + 60
        while not hits and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [h["path"] for h in hits] == ["/b"]
        assert hits[0]["body"]["text"].startswith("Spectra test alert: This is a test")  # type: ignore[index]
        while time.monotonic() < deadline:
            history = cli.ok("alerts", "history", "--json")["items"]
            if history and history[0]["status"] == "delivered":
                break
            time.sleep(0.2)
        assert [(d["kind"], d["status"], d["attempts"]) for d in history] == [
            ("slack", "delivered", 1)
        ]
        cli.both(["alerts", "history", "--alerts", "--json"])
    cli.both_fail("alerts", "channels", "add", "--kind", "pager", "--target", "x", "--name", "p")
    cli.both_fail("alerts", "rules", "add", "--event", "nope", "--channel", "ops-a")
    cli.both_fail(
        "alerts", "rules", "add", "--event", "runway_low", "--threshold", "5", "--role", "admin"
    )
    cli.both_fail("alerts", "channels", "remove", "nope")
    assert cli.local("alerts", "channels", "remove", "ops-a").code == 0
    assert cli.remote("alerts", "channels", "remove", "ops-b").code == 0
    assert cli.ok("alerts", "rules", "list", "--json")["items"] == []
