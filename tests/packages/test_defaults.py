"""A package created without model patterns allows every model (SCENARIOS: "Power: all models")."""

from __future__ import annotations

from spectra.packages.schemas import PackageCreate


def test_no_patterns_means_all_models() -> None:
    package = PackageCreate.model_validate(
        {"name": "Power", "allowance": "100", "period": "monthly"}
    )
    assert package.model_patterns == ["*"]


def test_explicit_patterns_are_kept() -> None:
    package = PackageCreate.model_validate(
        {
            "name": "Starter",
            "allowance": "20",
            "period": "monthly",
            "model_patterns": ["claude-sonnet-*"],
        }
    )
    assert package.model_patterns == ["claude-sonnet-*"]
