"""`spectra models fallbacks set|list|clear` both ways: in process and with --server print the
same; bad input is the same refusal both ways; the chain is audited."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_fallbacks_commands_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("groups", "create", "Team")
    local, remote = cli.both(
        ["models", "fallbacks", "set", "model-a", "--to", "model-b,model-c", "--json"],
        ["models", "fallbacks", "set", "model-x", "--to", "model-b,model-c", "--json"],
        names=("model-a", "model-x"),
    )
    assert local["chain"] == ["model-b", "model-c"]
    assert local["group"] is None
    assert remote["model"] == "model-x"
    group_set = ["models", "fallbacks", "set", "model-a", "--to", "model-c", "--group", "Team"]
    local, _ = cli.both(
        [*group_set, "--json"],
        ["models", "fallbacks", "set", "model-x", "--to", "model-c", "--group", "Team", "--json"],
        names=("model-a", "model-x"),
    )
    assert local["group"] == "Team"
    listed, _ = cli.both(["models", "fallbacks", "list", "--json"])
    assert [(i["model"], i["group"], i["chain"]) for i in listed["items"]] == [
        ("model-a", None, ["model-b", "model-c"]),
        ("model-a", "Team", ["model-c"]),
        ("model-x", None, ["model-b", "model-c"]),
        ("model-x", "Team", ["model-c"]),
    ]
    cli.both(["models", "fallbacks", "list"])
    # Replacing keeps one chain per model and group.
    cli.ok("models", "fallbacks", "set", "model-a", "--to", "model-d", "--json")
    listed = cli.ok("models", "fallbacks", "list", "--json")
    assert [i["chain"] for i in listed["items"] if i["model"] == "model-a"] == [
        ["model-d"],
        ["model-c"],
    ]
    local, _ = cli.both(
        ["models", "fallbacks", "clear", "model-a", "--group", "Team", "--json"],
        ["models", "fallbacks", "clear", "model-x", "--group", "Team", "--json"],
        names=("model-a", "model-x"),
    )
    assert local["chain"] == ["model-c"]
    cli.both_fail("models", "fallbacks", "clear", "model-a", "--group", "Team")
    cli.both_fail("models", "fallbacks", "set", "model-a", "--to", "model-a")
    cli.both_fail("models", "fallbacks", "set", "model-a", "--to", "claude-*")
    cli.both_fail("models", "fallbacks", "set", "model-a", "--to", "m1", "--group", "Nope")
    events = cli.ok("audit", "list", "--action", "pool.fallbacks.*", "--limit", "50", "--json")[
        "items"
    ]
    actions = [e["action"] for e in events if e["action"].startswith("pool.fallbacks")]
    assert actions.count("pool.fallbacks.set") == 5
    assert actions.count("pool.fallbacks.clear") == 2
