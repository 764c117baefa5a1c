"""Package errors: each says what went wrong and what to do."""

from __future__ import annotations

from spectra.errors import ConflictError, InvalidError, NotFoundError


class PackageNotFoundError(NotFoundError):
    code = "package_not_found"


class PackageVersionNotFoundError(NotFoundError):
    code = "package_version_not_found"


class PackageNameTakenError(ConflictError):
    code = "package_name_taken"


class PackageArchivedError(ConflictError):
    code = "package_archived"


class PackageTermsInvalidError(InvalidError):
    code = "package_terms_invalid"


class AssignmentNotFoundError(NotFoundError):
    code = "package_assignment_not_found"


class AssignmentExistsError(ConflictError):
    code = "package_already_assigned"


class AssignmentNotActiveError(ConflictError):
    code = "package_assignment_not_active"


class AssignmentTargetNotFoundError(NotFoundError):
    """A user (by email or id) or a group named in an assignment does not exist."""

    code = "package_target_not_found"


class AssignmentImportRejectedError(InvalidError):
    """A CSV import had rejected lines; nothing was applied. `details["rejected"]` lists them."""

    code = "package_import_rejected"
