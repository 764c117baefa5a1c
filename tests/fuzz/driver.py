"""Drive schemathesis over every operation of a live server's OpenAPI document, a bounded
number of examples each, and collect what breaks (a 5xx, or a body that does not match its
documented schema) instead of stopping at the first."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class FuzzReport:
    operations: int = 0
    requests: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    """Operation label -> what failed (the first failure; with the request that caused it)."""
    seconds: float = 0.0
    unreached: list[str] = field(default_factory=list)
    """Operations left when the time budget ran out (a slow machine; not a failure)."""

    def summary(self) -> str:
        lines = [f"{label}: {why}" for label, why in sorted(self.failures.items())]
        return "\n\n".join(lines)


def fuzz(
    base_url: str,
    token: str,
    *,
    max_examples: int,
    skip: frozenset[str] = frozenset(),
    budget_seconds: float | None = None,
    negative: bool = False,
) -> FuzzReport:
    """Fuzz every operation (except `skip`, by label `METHOD /path`) as the token's user; with
    `negative`, with requests that break the documented schema (which must get a 4xx)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    http = requests.Session()
    http.headers["authorization"] = f"Bearer {token}"
    report = FuzzReport()
    started = time.monotonic()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.failures[f"(schema {len(report.failures)})"] = str(result.err())
            continue
        operation = result.ok()
        if operation.label in skip:
            continue
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            report.unreached.append(operation.label)
            continue
        report.operations += 1
        mode = GenerationMode.NEGATIVE if negative else GenerationMode.POSITIVE
        error = _fuzz_operation(operation.as_strategy(mode), base_url, http, max_examples, report)
        if error is not None:
            report.failures[operation.label] = error
    report.seconds = time.monotonic() - started
    return report


def _fuzz_operation(
    strategy: Any, base_url: str, http: requests.Session, max_examples: int, report: FuzzReport
) -> str | None:
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=os.environ.get("SPECTRA_FUZZ_RANDOM") != "1",
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, session=http)
        report.requests += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Unsatisfiable:
        return None  # no request can break this operation's schema (negative mode)
    except BaseException as exc:  # schemathesis raises a FailureGroup (an exception group)
        return f"{type(exc).__name__}: {exc}"[:3000]
    return None
