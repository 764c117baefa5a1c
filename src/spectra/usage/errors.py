"""Usage errors: unpriced models, bad prices, unknown reports."""

from __future__ import annotations

from spectra.errors import InvalidError, NotFoundError, RefusedError


class ModelUnpricedError(RefusedError):
    """The gateway refuses a model that has no price (no override and no genai-prices default)."""

    code = "model_unpriced"

    @classmethod
    def for_model(cls, model: str) -> ModelUnpricedError:
        return cls(unpriced_message(model), model=model)


def unpriced_message(model: str) -> str:
    """The one sentence a member sees, telling an admin how to price the model."""
    return (
        f"No price is set for model {model}; an admin can set one with "
        f"`spectra prices set {model} --input PRICE --output PRICE` (per million tokens)."
    )


class InvalidPriceError(InvalidError):
    code = "invalid_price"


class PriceNotFoundError(NotFoundError):
    code = "price_not_found"


class InvalidUsageFilterError(InvalidError):
    code = "invalid_usage_filter"


class UsageUserNotFoundError(NotFoundError):
    code = "user_not_found"


class UsageGroupNotFoundError(NotFoundError):
    code = "group_not_found"
