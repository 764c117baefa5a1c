"""Plain-language labels for refusal reasons recorded on usage records (`refusal_reason` is the
refusal's error code; `refusal_rule` names the rule that decided)."""

from __future__ import annotations

_LABELS = {
    "model_not_in_package": "the member's packages do not include this model",
    "model_not_in_key_scope": "the key's scope does not include this model",
    "no_funding_source": "no package, wallet or group wallet may pay for it",
    "package_allowance_exhausted": "the package allowance for this period is used up",
    "wallet_empty": "the wallet has no balance left",
    "insufficient_funds": "no allowance or balance left to pay for it",
    "request_cost_over_limit": "the request would cost more than a per-request limit allows",
    "rate_limit_exceeded": "a requests-per-minute or tokens-per-minute limit was reached",
    "concurrency_limit_exceeded": "too many requests were running at once",
    "no_account_available": "no upstream account could serve the model at that moment",
    "user_suspended": "the member's account is suspended",
    "budget_exceeded": "a group or member monthly budget was reached",
}


def explain_reason(code: str | None, rule: str | None = None, message: str | None = None) -> str:
    """The sentence the caller was given when it was recorded; otherwise a plain-language label."""
    if message:
        return message
    if not code:
        return ""
    label = _LABELS.get(code) or code.replace("_", " ")
    return f"{label} (rule: {rule})" if rule else label
