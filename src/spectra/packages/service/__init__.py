"""The packages service: catalog, assignments, periods on the ledger, read models.

Import as `from spectra.packages import service as packages_service`.
"""

from spectra.packages.service.assignments import (
    AssignmentDetail,
    Plan,
    Preview,
    PreviewRow,
    Progress,
    assign_group,
    assign_many,
    assign_package,
    cancel_assignment,
    get_assignment,
    group_members,
    list_assignments,
    preview_assignment,
    resolve_users,
)
from spectra.packages.service.catalog import (
    PackageDetail,
    archive_package,
    create_package,
    edit_package,
    find_package,
    get_package,
    list_packages,
    list_versions,
)
from spectra.packages.service.groups import (
    assign_group_default,
    list_group_defaults,
    set_group_default_package,
)
from spectra.packages.service.imports import import_assignments
from spectra.packages.service.migrate import migrate_assignments, preview_migration
from spectra.packages.service.periods import (
    CHANGE_KIND,
    RenewalResult,
    close_current_period,
    expire_key,
    grant_key,
    grant_period,
    renew_assignment,
    workspace_time_zone,
)
from spectra.packages.service.views import (
    Entitlement,
    Holding,
    UserLedger,
    entitlements_for_users,
    holders_of,
    packages_of_user,
    user_ledger,
)

__all__ = [
    "CHANGE_KIND",
    "AssignmentDetail",
    "Entitlement",
    "Holding",
    "PackageDetail",
    "Plan",
    "Preview",
    "PreviewRow",
    "Progress",
    "RenewalResult",
    "UserLedger",
    "archive_package",
    "assign_group",
    "assign_group_default",
    "assign_many",
    "assign_package",
    "cancel_assignment",
    "close_current_period",
    "create_package",
    "edit_package",
    "entitlements_for_users",
    "expire_key",
    "find_package",
    "get_assignment",
    "get_package",
    "grant_key",
    "grant_period",
    "group_members",
    "holders_of",
    "import_assignments",
    "list_assignments",
    "list_group_defaults",
    "list_packages",
    "list_versions",
    "migrate_assignments",
    "packages_of_user",
    "preview_assignment",
    "preview_migration",
    "renew_assignment",
    "resolve_users",
    "set_group_default_package",
    "user_ledger",
    "workspace_time_zone",
]
