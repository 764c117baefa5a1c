"""The users domain's service functions: one per admin action, used by every surface.

`from spectra.users import service as users_service`.
"""

from __future__ import annotations

from ._common import GroupRef, UserRef, load_user
from .audit_log import (
    AuditQuery,
    count_audit_events,
    export_audit_events,
    list_audit_events,
    verify_audit_chain,
)
from .auth import (
    NewSession,
    active_user,
    authenticate_password,
    change_password,
    check_usable,
    consume_setup_link,
    create_session,
    credential_issuer,
    credential_provenance,
    end_session,
    ensure_owner,
    resolve_session,
    set_password,
    sign_in,
)
from .directory import (
    group_members,
    list_directory_groups,
    list_directory_users,
    set_directory_identity,
    set_group_external_id,
)
from .groups import UNSET, create_group, get_group, list_groups, update_group
from .importing import ImportLine, import_users, parse_csv
from .members import (
    IssuedSetupLink,
    change_role,
    create_setup_link,
    create_user,
    find_user_by_email,
    get_user,
    invite_user,
    list_users,
    move_group,
    reactivate_user,
    remove_user,
    suspend_user,
    update_user,
)

__all__ = [
    "UNSET",
    "AuditQuery",
    "GroupRef",
    "ImportLine",
    "IssuedSetupLink",
    "NewSession",
    "UserRef",
    "active_user",
    "authenticate_password",
    "change_password",
    "change_role",
    "check_usable",
    "consume_setup_link",
    "count_audit_events",
    "create_group",
    "create_session",
    "create_setup_link",
    "create_user",
    "credential_issuer",
    "credential_provenance",
    "end_session",
    "ensure_owner",
    "export_audit_events",
    "find_user_by_email",
    "get_group",
    "get_user",
    "group_members",
    "import_users",
    "invite_user",
    "list_audit_events",
    "list_directory_groups",
    "list_directory_users",
    "list_groups",
    "list_users",
    "load_user",
    "move_group",
    "parse_csv",
    "reactivate_user",
    "remove_user",
    "resolve_session",
    "set_directory_identity",
    "set_group_external_id",
    "set_password",
    "sign_in",
    "suspend_user",
    "update_group",
    "update_user",
    "verify_audit_chain",
]
