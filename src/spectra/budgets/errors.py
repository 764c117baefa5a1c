"""Budget and project errors, each with a stable code."""

from __future__ import annotations

from spectra.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError


class ProjectNotFoundError(NotFoundError):
    code = "project_not_found"


class ProjectExistsError(ConflictError):
    code = "project_exists"


class InvalidBudgetError(InvalidError):
    code = "invalid_budget"


class KeyBudgetNotFoundError(NotFoundError):
    code = "key_budget_not_found"


class ExtensionNotFoundError(NotFoundError):
    code = "budget_extension_not_found"


class ExtensionNotApplicableError(ConflictError):
    code = "budget_extension_not_applicable"


class ExtensionDecidedError(ConflictError):
    code = "budget_extension_decided"


class ExtensionSelfApprovalError(ForbiddenError):
    code = "budget_extension_self_approval"
