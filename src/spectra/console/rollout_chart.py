"""The rollout timeline's gate chart, server-rendered as inline SVG (no script, no library):
one small chart per gate with the current wave's value and the baseline's over time, the
autopilot's decisions marked, and the same readings as a table for screen readers. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spectra.policy.rollout_baseline import show_value

WIDTH = 560
HEIGHT = 160
PAD_LEFT = 64
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28
MARKED = ("promote", "pause", "rollback", "approval_needed")


@dataclass(frozen=True, slots=True)
class Reading:
    at: str
    cohort: str
    cohort_value: str
    baseline_value: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    kind: str
    label: str


@dataclass(slots=True)
class GateChart:
    gate: str
    title: str
    desc: str
    y_max: str
    start: str
    end: str
    cohort_points: str = ""
    baseline_points: str = ""
    dots: list[tuple[float, float, str]] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    bottom: int = HEIGHT - PAD_BOTTOM


def _x(at: datetime, first: datetime, last: datetime) -> float:
    span = (last - first).total_seconds()
    inner = WIDTH - PAD_LEFT - PAD_RIGHT
    if span <= 0:
        return PAD_LEFT + inner / 2
    return round(PAD_LEFT + inner * (at - first).total_seconds() / span, 1)


def _y(value: int, top: int) -> float:
    inner = HEIGHT - PAD_TOP - PAD_BOTTOM
    return round(HEIGHT - PAD_BOTTOM - inner * value / top, 1) if top else HEIGHT - PAD_BOTTOM


def gate_charts(events: list[dict[str, Any]], rollout: str) -> list[GateChart]:
    """Charts from the timeline rows (`rollout_timeline.event_view`, oldest first): each gate
    reading's cohort and baseline values, and the decisions on the same time axis."""
    readings: dict[str, list[tuple[datetime, str, dict[str, Any]]]] = {}
    for event in events:
        if event["kind"] != "gates":
            continue
        at = datetime.fromisoformat(event["at"])
        for result in (event.get("gates") or {}).get("gates", []):
            readings.setdefault(str(result["gate"]), []).append(
                (at, event.get("cohort") or "", result)
            )
    if not readings:
        return []
    times = [at for rows in readings.values() for at, _, _ in rows]
    first, last = min(times), max(times)
    decisions = [
        (datetime.fromisoformat(e["at"]), e)
        for e in events
        if e["kind"] in MARKED and first <= datetime.fromisoformat(e["at"]) <= last
    ]
    return [_chart(gate, rows, first, last, decisions, rollout) for gate, rows in readings.items()]


def _chart(
    gate: str,
    rows: list[tuple[datetime, str, dict[str, Any]]],
    first: datetime,
    last: datetime,
    decisions: list[tuple[datetime, dict[str, Any]]],
    rollout: str,
) -> GateChart:
    label = gate.replace("_", " ")
    top = max(max(int(r["cohort"]), int(r["baseline"])) for _, _, r in rows) or 1
    chart = GateChart(
        gate=gate,
        title=f"{rollout}: {label}, wave vs baseline",
        desc=f"{label} of the current wave and of the baseline at {len(rows)} readings from "
        f"{first.isoformat()} to {last.isoformat()}; the highest is {show_value(gate, top)}.",
        y_max=show_value(gate, top),
        start=first.strftime("%m-%d %H:%M"),
        end=last.strftime("%m-%d %H:%M"),
    )
    mine, theirs = [], []
    for at, cohort, result in rows:
        x = _x(at, first, last)
        mine.append(f"{x},{_y(int(result['cohort']), top)}")
        theirs.append(f"{x},{_y(int(result['baseline']), top)}")
        chart.dots.append((x, _y(int(result["cohort"]), top), str(result["outcome"])))
        chart.readings.append(
            Reading(
                at=at.isoformat(),
                cohort=cohort,
                cohort_value=show_value(gate, int(result["cohort"])),
                baseline_value=show_value(gate, int(result["baseline"])),
                outcome=str(result["outcome"]),
            )
        )
    chart.cohort_points = " ".join(mine)
    chart.baseline_points = " ".join(theirs)
    chart.markers = [
        Marker(_x(at, first, last), e["kind"], f"{e['kind']} {e.get('cohort') or ''}".strip())
        for at, e in decisions
    ]
    return chart
