"""Refusals of the access decision: each a stable reason code and one human sentence."""

from __future__ import annotations

from spectra.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError, RefusedError


class ModelNotInKeyScopeError(ForbiddenError):
    code = "model_not_in_key_scope"


class ModelNotInPackageError(ForbiddenError):
    code = "model_not_in_package"


class NoFundingSourceError(ForbiddenError):
    code = "no_funding_source"


class PackageAllowanceExhaustedError(RefusedError):
    code = "package_allowance_exhausted"


class WalletEmptyError(RefusedError):
    code = "wallet_empty"


class RequestTooCostlyError(RefusedError):
    code = "request_cost_over_limit"


class ModelDeniedByGroupError(ForbiddenError):
    code = "model_denied"


class ModelNotAllowedByGroupError(ForbiddenError):
    code = "model_not_allowed"


class ClientNotAllowedError(ForbiddenError):
    code = "client_not_allowed"


class GroupCapReachedError(RefusedError):
    code = "group_cap_reached"


class MemberCapReachedError(RefusedError):
    code = "member_cap_reached"


class UserNotActiveError(ForbiddenError):
    code = "user_suspended"


class PolicyUserNotFoundError(NotFoundError):
    code = "user_not_found"


class PolicyKeyNotFoundError(NotFoundError):
    code = "key_not_found"


class PolicyChangeInvalidError(InvalidError):
    code = "policy_change_invalid"


class PolicyGroupNotFoundError(NotFoundError):
    code = "group_not_found"


class DraftNotFoundError(NotFoundError):
    code = "policy_draft_not_found"


class DraftNotOpenError(ConflictError):
    code = "policy_draft_not_open"


class DryRunRequiredError(ConflictError):
    code = "dry_run_required"


class DryRunStaleError(ConflictError):
    code = "dry_run_stale"


class RolloutNotFoundError(NotFoundError):
    code = "rollout_not_found"


class RolloutExistsError(ConflictError):
    code = "rollout_exists"


class CohortNotFoundError(NotFoundError):
    code = "cohort_not_found"


class CohortOrderError(ConflictError):
    code = "cohort_out_of_order"


class RolloutGateError(ConflictError):
    code = "rollout_gate_closed"


class KeyBudgetExhaustedError(RefusedError):
    code = "key_budget_exhausted"


class ProjectBudgetExhaustedError(RefusedError):
    code = "project_budget_exhausted"


class ProjectNotAllowedError(ForbiddenError):
    code = "project_not_allowed"


class ModelNotAllowedForKeyError(ForbiddenError):
    code = "model_not_allowed_for_key"


class ClientNotAllowedForKeyError(ForbiddenError):
    code = "client_not_allowed_for_key"


class RolloutWatcherNotFoundError(NotFoundError):
    code = "rollout_watcher_not_found"
