"""`spectra usage report|adoption` with a team lead's token against a real `spectra serve`:
the lead's groups only (`--group` narrows to one they lead, another is refused in one
sentence), as a table, as JSON and as a CSV download."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cli.conftest import Cli
from tests.usage.lead_seed import ALICE_COST, OTHER_GROUP, OWN_GROUP, Teams, seed_teams


def _clean(teams: Teams, text: str) -> None:
    leaked = [s for s in teams.forbidden_strings() if s in text]
    assert not leaked, f"the lead's output shows {leaked}"


async def test_a_leads_cli_reports_cover_only_their_group(served: Cli, tmp_path: Path) -> None:
    cli = served
    teams = await seed_teams(cli.runtime)
    cli.token = teams.lead_token
    span = ["--from", teams.since.date().isoformat(), "--to", teams.until.date().isoformat()]

    async def run(*args: str) -> tuple[int, str, str]:
        result = await asyncio.to_thread(cli.remote, *args)
        return result.code, result.out, result.err

    code, out, err = await run("usage", "report", "--by", "user", *span, "--json")
    assert code == 0, err
    _clean(teams, out)
    for narrowed in ([], ["--group", OWN_GROUP]):
        code, out, err = await run("usage", "report", "--by", "model", *span, *narrowed, "--json")
        assert code == 0, err
        assert '"cost_micros": 3690000' in out
        _clean(teams, out)
    code, out, err = await run("usage", "report", "--by", "user", *span)
    assert code == 0, err
    assert "total: 3 requests, 3.69" in out  # the group's total, nothing of the other's
    _clean(teams, out)
    target = tmp_path / "report.csv"
    code, out, err = await run(
        "usage", "report", "--by", "user", *span, "--format", "csv", "--out", str(target)
    )
    assert code == 0, err
    assert f"{teams.alice.email},3,3" in target.read_text()
    assert str(3 * ALICE_COST) in target.read_text()
    _clean(teams, target.read_text())
    code, out, err = await run("usage", "adoption", *span, "--json")
    assert code == 0, err
    assert '"claude_code"' in out
    _clean(teams, out)

    code, out, err = await run("usage", "report", "--by", "user", "--group", OTHER_GROUP)
    assert code != 0
    assert err.strip().count("\n") == 0
    _clean(teams, out + err.replace(OTHER_GROUP, ""))
    code, _, err = await run("usage", "adoption", "--group", OTHER_GROUP)
    assert code != 0
