"""Bulk import of people from a CSV file (an HR export): every row is checked first, then all are written or none.

The file is the truth for what it names: a user's email, display name, department, title and groups become
what their row says, and `active` (when given) switches the account on or off through the normal save path, so
deactivation signs them out everywhere (accounts/signals.py). Columns and rules: docs/administration.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from accounts import roles
from accounts.models import User
from accounts.selectors import privileged_group_names
from accounts.services import privilege_changes
from core.errors import ParleyError

REQUIRED_COLUMNS = ("username", "email", "name", "department", "title", "groups")
OPTIONAL_COLUMNS = ("active",)
# The file's column -> the User field it sets. `name` is the full name as people write it, kept whole as the
# display name: splitting it into first and last guesses wrong for "Maria de la Cruz" or "Nakamura Niaj".
FIELD_FOR_COLUMN = {"email": "email", "name": "display_name", "department": "department", "title": "job_title"}
GROUP_SEPARATOR = ";"
ACTIVE_VALUES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
MAX_IMPORT_BYTES = 10 * 1024 * 1024  # about 50,000 rows; a bigger file is not an HR export
IMPORT_PERMISSIONS = ("accounts.add_user", "accounts.change_user")
# Usernames are looked up in chunks: SQLite limits the parameters of one query.
_LOOKUP_CHUNK = 500


class ImportFileInvalid(ParleyError):
    """The file as a whole cannot be read: not UTF-8 text, not CSV, or a required column is missing."""

    code = "import_file_invalid"


class ImportConflict(ParleyError):
    """A user the file creates was created by someone else between the check and the write."""

    code = "import_conflict"


class ImportNotAllowed(ParleyError):
    code = "forbidden"
    http_status = 403


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass(frozen=True)
class Change:
    """One field a row changes, named by its column in the file."""

    column: str
    old: str
    new: str


@dataclass(frozen=True)
class RowResult:
    line: int
    username: str
    outcome: Outcome
    changes: tuple[Change, ...] = ()
    errors: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for people: what happened to this row and why."""
        if self.outcome == Outcome.ERROR:
            return "error: " + "; ".join(self.errors)
        if self.outcome == Outcome.UPDATED:
            return "updated: " + "; ".join(f"{c.column} {c.old!r} -> {c.new!r}" for c in self.changes)
        return self.outcome.value


@dataclass(frozen=True)
class ImportReport:
    rows: tuple[RowResult, ...]
    dry_run: bool

    @property
    def has_errors(self) -> bool:
        return any(row.outcome == Outcome.ERROR for row in self.rows)

    @property
    def written(self) -> bool:
        """Whether the import changed the database (it does only when no row has an error)."""
        return not self.dry_run and not self.has_errors

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    def summary(self) -> str:
        created, updated, unchanged = (self.count(o) for o in (Outcome.CREATED, Outcome.UPDATED, Outcome.UNCHANGED))
        counts = f"{created} created, {updated} updated, {unchanged} unchanged"
        if self.has_errors:
            errors = self.count(Outcome.ERROR)
            return (
                f"{errors} row{'s' if errors > 1 else ''} with errors: nothing was imported. Fix them and import "
                f"the file again (the other rows would be: {counts})."
            )
        if self.dry_run:
            return f"Dry run, nothing was written. Importing would give: {counts}."
        return f"Imported: {counts}."


@dataclass(frozen=True)
class ImportRow:
    """A row of the file: its first line number and its cells by lower-case column name (stripped)."""

    line: int
    cells: dict[str, str]
    problem: str | None = None


# ---- reading the file -------------------------------------------------------------------------------------


def import_file_read(*, data: bytes) -> list[ImportRow]:
    """The file's rows, or ImportFileInvalid saying what is wrong with the file as a whole."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileInvalid(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    if b"\x00" in data:
        raise ImportFileInvalid(
            "This is not a CSV text file (it holds binary data). Save the sheet as 'CSV UTF-8 (comma delimited)'."
        )
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte order mark
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFileInvalid(
            f"The file is not UTF-8 text (line {line}). Save it as 'CSV UTF-8 (comma delimited)'."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = _header(reader)
        rows = []
        while True:
            line = reader.line_num + 1
            values = next(reader, None)
            if values is None:
                break
            if not any(value.strip() for value in values):
                continue  # a blank line, or a row of empty cells that spreadsheets leave at the end
            if len(values) != len(header):
                problem = f"the row has {len(values)} values; the first line names {len(header)} columns"
                rows.append(ImportRow(line=line, cells={}, problem=problem))
                continue
            rows.append(ImportRow(line=line, cells=dict(zip(header, (v.strip() for v in values), strict=True))))
    except csv.Error as error:
        raise ImportFileInvalid(f"Line {reader.line_num} is not valid CSV: {error}.") from None
    return rows


def _header(reader) -> list[str]:
    expected = ", ".join((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))
    header = next(reader, None)
    while header is not None and not any(cell.strip() for cell in header):
        header = next(reader, None)
    if header is None:
        raise ImportFileInvalid(f"The file is empty. Its first line names the columns: {expected}.")
    header = [cell.strip().lower() for cell in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        hint = ""
        if len(header) == 1 and ";" in header[0]:
            hint = " The columns seem to be separated by ';': Parley expects commas."
        raise ImportFileInvalid(
            f"Missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}. "
            f"The first line must name the columns: {expected}.{hint}"
        )
    unknown = [column for column in header if column not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
    if unknown:
        # Refused rather than ignored: a column nobody reads is data the operator thinks was imported.
        raise ImportFileInvalid(f"Unknown column {', '.join(map(repr, unknown))}. The columns are: {expected}.")
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise ImportFileInvalid(f"Column {', '.join(map(repr, repeated))} appears more than once.")
    return header


# ---- checking and writing ---------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What one valid row will do: the user (unsaved when new), the fields to save and the group names."""

    result: RowResult
    user: User | None = None
    fields: dict[str, object] = field(default_factory=dict)
    groups_add: set[str] = field(default_factory=set)
    groups_remove: set[str] = field(default_factory=set)


def users_import(*, data: bytes, dry_run: bool, actor: User | None) -> ImportReport:
    """Check every row of a CSV file, then create and update the users it describes, all or nothing.

    `actor` is who imports (None for an operator at the shell); they need accounts.add_user and
    accounts.change_user. A dry run, or any row with an error, writes nothing and reports what would happen.
    """
    if actor is not None and not actor.has_perms(IMPORT_PERMISSIONS):
        raise ImportNotAllowed("Importing users needs the permissions to add and change users.")
    return users_import_rows(rows=import_file_read(data=data), dry_run=dry_run, actor=actor)


def users_import_rows(*, rows: list[ImportRow], dry_run: bool, actor: User | None) -> ImportReport:
    """The import's checks and writes for rows from anywhere: a CSV file, or a directory (accounts.directory),
    whose rows carry the same columns. All or nothing; `actor` None is the system (no privilege checks)."""
    try:
        with transaction.atomic():
            # Locking the rows' existing users means the changes reported are exactly the changes written, even
            # when someone edits one of them in the admin meanwhile.
            plans = _plans(rows=rows, actor=actor, lock=not dry_run)
            report = ImportReport(rows=tuple(plan.result for plan in plans), dry_run=dry_run)
            if report.written:
                _apply(plans)
    except IntegrityError:
        raise ImportConflict("Users changed while importing; nothing was written. Import the file again.") from None
    return report


def _plans(*, rows: list[ImportRow], actor: User | None, lock: bool) -> list[_Plan]:
    usernames = [User.normalize_username(row.cells.get("username", "")) for row in rows]
    existing = _users_by_lower_username(usernames, lock=lock)
    known_groups = set(Group.objects.values_list("name", flat=True)) | set(roles.ALL_ROLES)
    first_line_of: dict[str, int] = {}
    privileged_groups: set[str] | None = None
    plans = []
    for row, username in zip(rows, usernames, strict=True):
        errors = [row.problem] if row.problem else _username_errors(username)
        if username:
            earlier = first_line_of.setdefault(username.lower(), row.line)
            if earlier != row.line:
                errors.append(f"username {username!r} is also on line {earlier}")
        namesakes = existing.get(username.lower(), [])
        user = next((namesake for namesake in namesakes if namesake.username == username), None)
        if user is None and namesakes:
            # Django refuses usernames that differ only in case (UserCreationForm); so does the import.
            errors.append(f"a user named {namesakes[0].username!r} exists already (usernames differ only in case)")
        values, group_names, active, value_errors = _checked_values(row.cells, known_groups)
        errors += value_errors
        if user is not None and user == actor and active is False:
            errors.append("you cannot deactivate your own account")
        if user is not None and actor is not None and not actor.is_superuser:
            # The same separation of duties as the user admin (accounts/admin.py).
            if user.is_superuser:
                errors.append("only a superuser can change a superuser")
            elif user == actor and group_names != {group.name for group in user.groups.all()}:
                errors.append("you cannot change your own groups")
        if actor is not None and not actor.is_superuser and not value_errors and not (user is None and namesakes):
            # Granting or taking away IT Admins or Compliance Officers: the same service check as the user admin.
            if privileged_groups is None:
                privileged_groups = privileged_group_names()  # once per import, not per row
            privileged = privilege_changes(user=user, groups=group_names, privileged_groups=privileged_groups)
            if privileged:
                errors.append(f"only a superuser may {' or '.join(privileged)}")
        if errors:
            result = RowResult(line=row.line, username=username, outcome=Outcome.ERROR, errors=tuple(errors))
            plans.append(_Plan(result=result))
        elif user is None:
            plans.append(_creation(row.line, username, values, group_names, active))
        else:
            plans.append(_update(row.line, user, values, group_names, active))
    return plans


def _users_by_lower_username(usernames: Iterable[str], *, lock: bool) -> dict[str, list[User]]:
    """The existing users whose usernames match the file's, ignoring case; one query per 500 names."""
    lowered = sorted({name.lower() for name in usernames if name})
    found: dict[str, list[User]] = {}
    for start in range(0, len(lowered), _LOOKUP_CHUNK):
        users = User.objects.annotate(username_lower=Lower("username")).filter(
            username_lower__in=lowered[start : start + _LOOKUP_CHUNK]
        )
        if lock:
            users = users.select_for_update()
        for user in users.prefetch_related("groups"):
            found.setdefault(user.username.lower(), []).append(user)
    return found


def _username_errors(username: str) -> list[str]:
    if not username:
        return ["the username is empty"]
    max_length = User._meta.get_field("username").max_length
    if len(username) > max_length:
        return [f"the username is longer than {max_length} characters"]
    try:
        User.username_validator(username)
    except ValidationError as error:
        return [f"username {username!r}: {' '.join(error.messages)}"]
    return []


def _checked_values(
    cells: dict[str, str], known_groups: set[str]
) -> tuple[dict[str, str], set[str], bool | None, list[str]]:
    """A row's field values, group names and `active` (None when not given), and what is wrong with them."""
    errors = []
    if not cells:
        return {}, set(), None, []  # the row could not be read; its problem is reported instead
    values = {FIELD_FOR_COLUMN[column]: cells[column] for column in FIELD_FOR_COLUMN}
    for column, field_name in FIELD_FOR_COLUMN.items():
        max_length = User._meta.get_field(field_name).max_length
        if len(values[field_name]) > max_length:
            errors.append(f"{column} is longer than {max_length} characters")
    email = values["email"]
    if not email:
        errors.append("the email is empty")
    elif len(email) <= User._meta.get_field("email").max_length:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(f"{email!r} is not a valid email address")
    group_names = {name.strip() for name in cells["groups"].split(GROUP_SEPARATOR) if name.strip()}
    for name in sorted(group_names - known_groups):
        similar = [known for known in sorted(known_groups) if known.lower() == name.lower()]
        hint = f" (did you mean {similar[0]!r}?)" if similar else ""
        errors.append(f"unknown group {name!r}{hint}")
    active = None
    raw_active = cells.get("active", "")
    if raw_active:
        active = ACTIVE_VALUES.get(raw_active.lower())
        if active is None:
            errors.append(f"active is yes or no (true/false, 1/0), not {raw_active!r}")
    return values, group_names, active, errors


def _creation(line: int, username: str, values: dict[str, str], group_names: set[str], active: bool | None) -> _Plan:
    user = User(username=username, is_active=True if active is None else active, **values)
    user.set_unusable_password()  # IT sets a password in the admin; nobody can sign in until then
    return _Plan(
        result=RowResult(line=line, username=username, outcome=Outcome.CREATED), user=user, groups_add=group_names
    )


def _update(line: int, user: User, values: dict[str, str], group_names: set[str], active: bool | None) -> _Plan:
    column_for_field = {field_name: column for column, field_name in FIELD_FOR_COLUMN.items()}
    fields: dict[str, object] = {name: value for name, value in values.items() if getattr(user, name) != value}
    changes = [Change(column_for_field[name], getattr(user, name), value) for name, value in fields.items()]
    current = {group.name for group in user.groups.all()}  # prefetched
    if current != group_names:
        changes.append(Change("groups", "; ".join(sorted(current)), "; ".join(sorted(group_names))))
    if active is not None and active != user.is_active:
        fields["is_active"] = active
        changes.append(Change("active", _yes_no(user.is_active), _yes_no(active)))
    outcome = Outcome.UPDATED if changes else Outcome.UNCHANGED
    return _Plan(
        result=RowResult(line=line, username=user.username, outcome=outcome, changes=tuple(changes)),
        user=user,
        fields=fields,
        groups_add=group_names - current,
        groups_remove=current - group_names,
    )


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _apply(plans: list[_Plan]) -> None:
    """Write the checked plans. Unchanged users are not saved at all, so the audit log records nothing for them."""
    names = {name for plan in plans for name in plan.groups_add | plan.groups_remove}
    groups = {group.name: group for group in Group.objects.filter(name__in=names)}
    for name in (names & set(roles.ALL_ROLES)) - set(groups):
        groups[name] = roles.role_group(name)  # an operator deleted a role group; it comes back
    for plan in plans:
        user = plan.user
        if plan.result.outcome == Outcome.CREATED:
            user.save()
        elif plan.fields:
            for name, value in plan.fields.items():
                setattr(user, name, value)
            # A plain save of the changed fields: the deactivation receiver signs the user out after commit.
            user.save(update_fields=list(plan.fields))
        if plan.groups_remove:
            user.groups.remove(*(groups[name] for name in plan.groups_remove))
        if plan.groups_add:
            user.groups.add(*(groups[name] for name in plan.groups_add))
