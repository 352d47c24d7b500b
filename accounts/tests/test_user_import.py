"""Importing people from CSV: every row checked, then all written or none; a re-import changes nothing."""

from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models.signals import m2m_changed, post_save
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles, user_import
from accounts.management.commands.import_users import Command as ImportUsersCommand
from accounts.models import User
from accounts.tests.factories import UserFactory
from accounts.user_import import ImportConflict, ImportFileInvalid, ImportNotAllowed, Outcome, users_import
from core.testing import force_login_with_second_factor

pytestmark = pytest.mark.django_db

HEADER = "username,email,name,department,title,groups\n"
EXAMPLE_FILE = Path(settings.BASE_DIR) / "docs" / "examples" / "users.csv"


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


def run(data: bytes, *, dry_run: bool = False, actor=None):
    return users_import(data=data, dry_run=dry_run, actor=actor)


def group_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


@contextmanager
def counting_writes():
    """Count every save of a user and every change of a user's groups, however they happen."""
    writes = []

    def saved(sender, instance, **kwargs):
        writes.append(("save", instance.pk))

    def regrouped(sender, instance, action, **kwargs):
        if action.startswith("post_"):
            writes.append((action, instance.pk))

    post_save.connect(saved, sender=User, dispatch_uid="count-user-saves")
    m2m_changed.connect(regrouped, sender=User.groups.through, dispatch_uid="count-user-groups")
    try:
        yield writes
    finally:
        post_save.disconnect(sender=User, dispatch_uid="count-user-saves")
        m2m_changed.disconnect(sender=User.groups.through, dispatch_uid="count-user-groups")


class TestCreating:
    def test_a_good_file_creates_the_users_with_their_profile_and_groups(self):
        Group.objects.create(name="Traders")

        report = run(
            csv_file(
                "alice,alice@example.com,Alice Archer,Sales,Account Executive,Employees",
                "maria,maria@example.com,María de la Cruz,Trading,Trader, Employees ; Traders ",
            )
        )

        assert [(row.line, row.username, row.outcome) for row in report.rows] == [
            (2, "alice", Outcome.CREATED),
            (3, "maria", Outcome.CREATED),
        ]
        maria = User.objects.get(username="maria")
        assert (maria.email, maria.display_name, maria.department, maria.job_title) == (
            "maria@example.com",
            "María de la Cruz",
            "Trading",
            "Trader",
        )
        assert group_names(maria) == {"Employees", "Traders"}
        assert maria.is_active
        assert report.written

    def test_new_users_cannot_sign_in_until_it_sets_a_password(self):
        run(csv_file("alice,alice@example.com,Alice Archer,Sales,Executive,Employees"))

        alice = User.objects.get(username="alice")
        assert not alice.has_usable_password()
        assert not password_signs_in("alice", "")

    def test_the_example_file_in_the_docs_imports(self):
        report = run(EXAMPLE_FILE.read_bytes())

        assert not report.has_errors
        assert report.count(Outcome.CREATED) == User.objects.count() > 0

    def test_headers_are_case_insensitive_in_any_order_and_a_byte_order_mark_is_fine(self):
        data = "\ufeffGroups, Title ,NAME,Department,Email,Username\n".encode()
        data += b"Employees,Trader,Judy Jones,Trading,judy@example.com,judy\n"

        report = run(data)

        judy = User.objects.get(username="judy")
        assert report.rows[0].outcome == Outcome.CREATED
        assert (judy.email, judy.job_title, group_names(judy)) == ("judy@example.com", "Trader", {"Employees"})

    def test_the_active_column_may_create_a_deactivated_account(self):
        run(
            csv_file(
                "ann,ann@example.com,Ann,Sales,Rep,,No",
                "ben,ben@example.com,Ben,Sales,Rep,,1",
                "cid,cid@example.com,Cid,Sales,Rep,,",
                header="username,email,name,department,title,groups,active\n",
            )
        )

        assert dict(User.objects.values_list("username", "is_active")) == {"ann": False, "ben": True, "cid": True}

    def test_a_role_group_an_operator_deleted_comes_back(self):
        Group.objects.filter(name=roles.IT_ADMINS).delete()

        run(csv_file("ian,ian@example.com,Ian,IT,Admin,IT Admins"))

        assert group_names(User.objects.get(username="ian")) == {roles.IT_ADMINS}


class TestRowErrors:
    BAD_ROWS = (
        ("bad email", "ann,ann@@example,Ann,Sales,Rep,Employees", "not a valid email address"),
        ("no email", "ann,,Ann,Sales,Rep,Employees", "email is empty"),
        ("unknown group", "ann,ann@example.com,Ann,Sales,Rep,Employees;Astronauts", "unknown group 'Astronauts'"),
        ("group in other case", "ann,ann@example.com,Ann,Sales,Rep,employees", "did you mean 'Employees'"),
        ("bad username", "ann smith,ann@example.com,Ann,Sales,Rep,Employees", "username 'ann smith'"),
        ("no username", ",ann@example.com,Ann,Sales,Rep,Employees", "username is empty"),
        ("long department", "ann,ann@example.com,Ann,{},Rep,Employees".format("x" * 101), "department is longer"),
        ("long name", "ann,ann@example.com,{},Sales,Rep,Employees".format("x" * 151), "name is longer than 150"),
        ("long username", "{},ann@example.com,Ann,Sales,Rep,Employees".format("a" * 151), "longer than 150"),
        ("values missing", "ann,ann@example.com,Ann", "the row has 3 values"),
        ("values extra", "ann,ann@example.com,Ann,Sales,Rep,Employees,yes", "the row has 7 values"),
    )

    @pytest.mark.parametrize(("row", "message"), [case[1:] for case in BAD_ROWS], ids=[c[0] for c in BAD_ROWS])
    def test_a_bad_row_is_reported_with_its_line_and_nothing_is_written(self, row, message):
        alice = UserFactory(username="alice", department="Sales")

        report = run(
            csv_file(
                "alice,alice@example.com,Alice,Trading,Trader,Employees",
                "zed,zed@example.com,Zed,Sales,Rep,Employees",
                row,
            )
        )

        errors = [(result.line, result.errors) for result in report.rows if result.outcome == Outcome.ERROR]
        assert len(errors) == 1
        assert errors[0][0] == 4
        assert message in "; ".join(errors[0][1])
        assert [row.outcome for row in report.rows[:2]] == [Outcome.UPDATED, Outcome.CREATED]
        assert not report.written
        assert set(User.objects.values_list("username", flat=True)) == {"alice"}
        alice.refresh_from_db()
        assert alice.department == "Sales"
        assert not alice.groups.exists()

    def test_every_problem_of_a_row_is_reported_at_once(self):
        report = run(csv_file("ann,nope,Ann,Sales,Rep,Astronauts"))

        assert len(report.rows[0].errors) == 2

    def test_a_username_twice_in_the_file_is_an_error_naming_the_first_line(self):
        report = run(
            csv_file(
                "ann,ann@example.com,Ann,Sales,Rep,Employees",
                "bob,bob@example.com,Bob,Sales,Rep,Employees",
                "Ann,ann2@example.com,Ann Two,Sales,Rep,Employees",
            )
        )

        assert report.rows[2].outcome == Outcome.ERROR
        assert report.rows[2].errors == ("username 'Ann' is also on line 2",)
        assert not User.objects.exists()

    def test_a_username_differing_only_in_case_from_an_existing_user_is_refused(self):
        UserFactory(username="alice")

        report = run(csv_file("Alice,alice@example.com,Alice,Sales,Rep,Employees"))

        assert "exists already" in report.rows[0].errors[0]
        assert User.objects.count() == 1

    def test_an_unknown_active_value_is_an_error(self):
        report = run(csv_file("ann,ann@example.com,Ann,Sales,Rep,,maybe", header=HEADER.strip() + ",active\n"))

        assert "not 'maybe'" in report.rows[0].errors[0]

    def test_a_multiline_quoted_cell_reports_the_line_its_row_starts_on(self):
        report = run(csv_file('ann,ann@example.com,"Ann\nSmith",Sales,Rep,Employees', "bob,bad,Bob,Sales,Rep,"))

        assert [row.line for row in report.rows] == [2, 4]
        assert report.rows[1].outcome == Outcome.ERROR


class TestTheFile:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"username,email,name,department,title\nann,a@example.com,Ann,Sales,Rep\n", "column: groups"),
            (b"user,mail,name,department,title,groups\n", "columns: username, email"),
            (b"username;email;name;department;title;groups\n", "separated by ';'"),
            (b"username,email,name,department,title,groups,phone\n", "Unknown column 'phone'"),
            (b"username,email,name,department,title,groups,Email\n", "'email' appears more than once"),
            (b"", "empty"),
            ("username,email,name,department,title,groups\nrené,r@example.com,René,,,\n".encode("latin-1"), "UTF-8"),
            ("username,email\n".encode("utf-16"), "binary data"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
            (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "binary data"),
        ],
        ids=["missing", "misnamed", "semicolons", "unknown", "repeated", "empty", "latin-1", "utf-16", "png", "xlsx"],
    )
    def test_a_file_that_cannot_be_read_is_refused_with_a_clear_message(self, data, message):
        with pytest.raises(ImportFileInvalid) as refused:
            run(data)

        assert message in refused.value.message
        assert not User.objects.exists()

    def test_blank_lines_are_skipped(self):
        report = run(csv_file("", "ann,ann@example.com,Ann,Sales,Rep,Employees", ",,,,,", ""))

        assert [(row.line, row.outcome) for row in report.rows] == [(3, Outcome.CREATED)]


class TestDryRun:
    def test_a_dry_run_reports_what_would_happen_and_writes_nothing(self):
        alice = UserFactory(username="alice", department="Sales")
        entries_before = LogEntry.objects.count()

        with counting_writes() as writes:
            report = run(
                csv_file(
                    "alice,alice@example.com,Alice,Trading,Trader,Employees",
                    "ann,ann@example.com,Ann,Sales,Rep,IT Admins",
                ),
                dry_run=True,
            )

        assert [row.outcome for row in report.rows] == [Outcome.UPDATED, Outcome.CREATED]
        assert ("department", "Sales", "Trading") in [(c.column, c.old, c.new) for c in report.rows[0].changes]
        assert not report.written
        assert "Dry run" in report.summary()
        assert writes == []
        assert LogEntry.objects.count() == entries_before
        assert list(User.objects.values_list("username", flat=True)) == ["alice"]
        alice.refresh_from_db()
        assert alice.department == "Sales"


class TestUpdating:
    def test_a_changed_field_is_saved_and_reported_with_its_old_and_new_value(self):
        alice = UserFactory(username="alice", email="alice@example.com", display_name="Alice", department="Sales")
        alice.groups.add(roles.role_group(roles.EMPLOYEES))

        report = run(csv_file("alice,alice@example.com,Alice,Trading,Engineer,Employees"))

        alice.refresh_from_db()
        assert alice.department == "Trading"
        assert report.rows[0].outcome == Outcome.UPDATED
        assert [(c.column, c.old, c.new) for c in report.rows[0].changes] == [
            ("department", "Sales", "Trading"),
        ]
        assert "department 'Sales' -> 'Trading'" in report.rows[0].describe()
        entry = LogEntry.objects.get_for_object(alice).latest("pk")
        assert entry.changes_dict["department"] == ["Sales", "Trading"]

    def test_the_file_replaces_the_users_groups(self):
        alice = UserFactory(username="alice", email="alice@example.com", display_name="Alice", job_title="Rep")
        alice.groups.add(Group.objects.create(name="Traders"), roles.role_group(roles.EMPLOYEES))

        report = run(csv_file("alice,alice@example.com,Alice,Engineering,Rep,IT Admins;Employees"))

        assert group_names(alice) == {roles.IT_ADMINS, roles.EMPLOYEES}
        assert [(c.column, c.old, c.new) for c in report.rows[0].changes] == [
            ("groups", "Employees; Traders", "Employees; IT Admins")
        ]

    def test_active_no_deactivates_and_signs_the_user_out(self, django_capture_on_commit_callbacks):
        alice = UserFactory(username="alice", email="alice@example.com", display_name="Alice", job_title="Rep")
        Client().force_login(alice)
        assert Session.objects.count() == 1

        with django_capture_on_commit_callbacks(execute=True):
            report = run(
                csv_file("alice,alice@example.com,Alice,Engineering,Rep,,no", header=HEADER.strip() + ",active\n")
            )

        alice.refresh_from_db()
        assert not alice.is_active
        assert [(c.column, c.old, c.new) for c in report.rows[0].changes] == [("active", "yes", "no")]
        assert not Session.objects.exists()

    def test_active_yes_reactivates_and_no_active_column_leaves_it_alone(self):
        gone = UserFactory(username="gone", email="gone@example.com", display_name="Gone", job_title="Rep")
        gone.is_active = False
        gone.save()
        row = "gone,gone@example.com,Gone,Engineering,Rep,"

        run(csv_file(row))
        assert not User.objects.get(pk=gone.pk).is_active

        run(csv_file(row + ",yes", header=HEADER.strip() + ",active\n"))
        assert User.objects.get(pk=gone.pk).is_active

    def test_an_importer_cannot_deactivate_their_own_account(self):
        roles.role_permissions_apply()
        ian = UserFactory(username="ian", email="ian@example.com", display_name="Ian", department="IT", job_title="A")
        ian.groups.add(roles.role_group(roles.IT_ADMINS))
        ian = User.objects.get(pk=ian.pk)  # fresh permission cache

        report = run(
            csv_file("ian,ian@example.com,Ian,IT,A,IT Admins,no", header=HEADER.strip() + ",active\n"), actor=ian
        )

        assert report.rows[0].errors == ("you cannot deactivate your own account",)
        assert User.objects.get(pk=ian.pk).is_active

    def test_an_it_admin_cannot_import_themselves_into_another_role_nor_change_a_superuser(self):
        roles.role_permissions_apply()
        ian = UserFactory(username="ian", email="ian@example.com", display_name="Ian", department="IT", job_title="A")
        ian.groups.add(roles.role_group(roles.IT_ADMINS))
        UserFactory(username="root", email="root@example.com", is_superuser=True)
        ian = User.objects.get(pk=ian.pk)

        report = run(
            csv_file(
                "ian,ian@example.com,Ian,IT,A,IT Admins;Compliance Officers",
                "root,root@example.com,Root,IT,Boss,Employees",
            ),
            actor=ian,
        )

        assert [row.errors for row in report.rows] == [
            (
                "you cannot change your own groups",
                "only a superuser may grant or take away the Compliance Officers group",
            ),
            ("only a superuser can change a superuser",),
        ]
        assert group_names(ian) == {roles.IT_ADMINS}

    def test_an_it_admin_cannot_grant_or_take_away_a_privileged_role_and_nothing_is_written(self):
        roles.role_permissions_apply()
        ian = UserFactory(username="ian", email="ian@example.com", display_name="Ian", department="IT", job_title="A")
        ian.groups.add(roles.role_group(roles.IT_ADMINS))
        connie = UserFactory(
            username="connie", email="connie@example.com", display_name="Connie", department="Compliance", job_title="O"
        )
        connie.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))
        auditors = Group.objects.create(name="Auditors")
        auditors.permissions.add(*roles.role_group(roles.COMPLIANCE_OFFICERS).permissions.all())

        report = run(
            csv_file(
                "alice,alice@example.com,Alice,Sales,Rep,Employees;Compliance Officers",
                "bob,bob@example.com,Bob,IT,Tech,IT Admins",
                "connie,connie@example.com,Connie,Compliance,O,Employees",
                "dora,dora@example.com,Dora,Audit,Auditor,Auditors",
                "erin,erin@example.com,Erin,Sales,Rep,Employees",
            ),
            actor=User.objects.get(pk=ian.pk),
        )

        assert [row.errors for row in report.rows] == [
            ("only a superuser may grant or take away the Compliance Officers group",),
            ("only a superuser may grant or take away the IT Admins group",),
            ("only a superuser may grant or take away the Compliance Officers group",),
            ("only a superuser may grant or take away the Auditors group",),
            (),
        ]
        assert not report.written
        assert set(User.objects.values_list("username", flat=True)) == {"ian", "connie"}
        assert group_names(connie) == {roles.COMPLIANCE_OFFICERS}

    def test_a_superuser_grants_privileged_roles_by_import(self):
        root = UserFactory(username="root", is_staff=True, is_superuser=True)

        report = run(csv_file("alice,alice@example.com,Alice,Sales,Rep,Employees;Compliance Officers"), actor=root)

        assert report.written
        assert group_names(User.objects.get(username="alice")) == {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS}


class TestReimport:
    def test_importing_the_same_file_again_changes_nothing_and_saves_nobody(self):
        Group.objects.create(name="Traders")
        data = EXAMPLE_FILE.read_bytes() + b"judy,judy@example.com,Judy Jones,Trading,Trader,Employees;Traders,\n"
        run(data)
        entries_before = LogEntry.objects.count()

        with counting_writes() as writes:
            report = run(data)

        assert {row.outcome for row in report.rows} == {Outcome.UNCHANGED}
        assert len(report.rows) == 6
        assert writes == []
        assert LogEntry.objects.count() == entries_before

    def test_checking_a_reimport_costs_the_same_queries_for_many_rows_as_for_few(self):
        def rows(count: int) -> bytes:
            return csv_file(*(f"u{n},u{n}@example.com,U {n},Sales,Rep,Employees" for n in range(count)))

        run(rows(40))
        with CaptureQueriesContext(connection) as few:
            run(rows(5))
        with CaptureQueriesContext(connection) as many:
            run(rows(40))

        assert len(many) == len(few)


class TestConcurrency:
    def test_a_user_someone_else_creates_between_check_and_write_stops_the_import_with_nothing_written(
        self, monkeypatch
    ):
        write = user_import._apply

        def someone_else_creates_bob_first(plans):
            UserFactory(username="bob")
            write(plans)

        monkeypatch.setattr(user_import, "_apply", someone_else_creates_bob_first)

        with pytest.raises(ImportConflict):
            run(csv_file("ann,ann@example.com,Ann,Sales,Rep,Employees", "bob,bob@example.com,Bob,Sales,Rep,"))

        assert not User.objects.filter(username="ann").exists()


class TestWhoMayImport:
    def test_someone_without_the_add_and_change_user_permissions_is_refused(self):
        roles.role_permissions_apply()
        officer = UserFactory(username="connie", is_staff=True)
        officer.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))

        with pytest.raises(ImportNotAllowed):
            run(csv_file("ann,ann@example.com,Ann,Sales,Rep,Employees"), actor=officer)

        assert not User.objects.filter(username="ann").exists()


class TestCommand:
    def test_imports_the_file_and_prints_each_row_and_a_summary(self, tmp_path):
        UserFactory(username="alice", email="alice@example.com", display_name="Alice Archer", department="Trading")
        path = tmp_path / "users.csv"
        path.write_bytes(EXAMPLE_FILE.read_bytes())
        out = StringIO()

        call_command("import_users", str(path), stdout=out)

        printed = out.getvalue()
        assert "alice" in printed
        assert "department 'Trading' -> 'Sales'" in printed
        assert "Imported: 4 created, 1 updated, 0 unchanged." in printed
        assert User.objects.get(username="alice").department == "Sales"
        assert User.objects.filter(username="frank", is_active=False).exists()

    def test_a_dry_run_prints_the_report_and_writes_nothing(self, tmp_path):
        path = tmp_path / "users.csv"
        path.write_bytes(EXAMPLE_FILE.read_bytes())
        out = StringIO()

        call_command("import_users", str(path), "--dry-run", stdout=out)

        assert out.getvalue().count("  created\n") == 5
        assert "Dry run, nothing was written. Importing would give: 5 created" in out.getvalue()
        assert not User.objects.exists()

    def test_rows_with_errors_are_printed_and_the_command_fails_having_written_nothing(self, tmp_path):
        path = tmp_path / "users.csv"
        path.write_bytes(csv_file("ann,ann@example.com,Ann,Sales,Rep,Employees", "bob,bob@,Bob,Sales,Rep,Pilots"))
        out = StringIO()

        with pytest.raises(CommandError, match="1 row with errors: nothing was imported"):
            call_command("import_users", str(path), stdout=out)

        assert "line     3  bob  error: 'bob@' is not a valid email address; unknown group 'Pilots'" in out.getvalue()
        assert not User.objects.exists()

    def test_a_file_that_cannot_be_read_fails_with_the_reason(self, tmp_path):
        path = tmp_path / "users.csv"
        path.write_bytes(b"username,email\n")

        with pytest.raises(CommandError, match="Missing required columns: name, department, title, groups"):
            call_command("import_users", str(path))
        with pytest.raises(CommandError, match="No such file"):
            call_command("import_users", str(tmp_path / "missing.csv"))

    def test_the_command_exits_non_zero_on_errors(self, tmp_path, capsys):
        path = tmp_path / "users.csv"
        path.write_bytes(csv_file("bob,bob@,Bob,Sales,Rep,"))

        with pytest.raises(SystemExit) as exited:
            ImportUsersCommand().run_from_argv(["manage.py", "import_users", str(path), "--dry-run"])

        assert exited.value.code != 0
        assert "nothing was imported" in capsys.readouterr().err


def staff_client(role: str | None) -> tuple[Client, User]:
    """A signed-in admin user holding `role` (a superuser when None)."""
    roles.role_permissions_apply()
    person = UserFactory(is_staff=True, is_superuser=role is None)
    if role is not None:
        person.groups.add(roles.role_group(role))
    client = Client()
    force_login_with_second_factor(client, person)
    return client, person


def password_signs_in(username: str, password: str) -> bool:
    """Through the sign-in form, as a person would (django-axes needs the request)."""
    client = Client()
    client.post("/accounts/login/", {"username": username, "password": password})
    return "_auth_user_id" in client.session


def upload(client: Client, data: bytes, *, dry_run: bool, name: str = "users.csv"):
    form = {"file": SimpleUploadedFile(name, data, content_type="text/csv")}
    if dry_run:
        form["dry_run"] = "on"
    return client.post(reverse("admin:accounts_user_import"), form)


class TestAdminImport:
    def test_an_it_admin_imports_from_the_user_list_and_sees_the_report(self):
        it_admin, person = staff_client(roles.IT_ADMINS)
        employees_only = b"".join(
            line for line in EXAMPLE_FILE.read_bytes().splitlines(keepends=True) if b" Admins" not in line
        ).replace(b"Compliance Officers", b"Employees")

        changelist = it_admin.get(reverse("admin:accounts_user_changelist")).content.decode()
        page = it_admin.get(reverse("admin:accounts_user_import"))
        response = upload(it_admin, employees_only, dry_run=False)

        assert reverse("admin:accounts_user_import") in changelist
        assert page.status_code == 200
        assert response.status_code == 200
        assert "Imported: 4 created, 0 updated, 0 unchanged." in response.content.decode()
        assert "maria.delacruz" in response.content.decode()
        maria = User.objects.get(username="maria.delacruz")
        assert group_names(maria) == {roles.EMPLOYEES}
        assert LogEntry.objects.get_for_object(maria).filter(actor=person).exists()

    def test_an_it_admin_importing_privileged_roles_gets_a_row_error_each_and_nothing_is_written(self):
        it_admin, _ = staff_client(roles.IT_ADMINS)

        response = upload(it_admin, EXAMPLE_FILE.read_bytes(), dry_run=False)

        page = response.content.decode()
        assert response.status_code == 200
        assert "only a superuser may grant or take away the IT Admins group" in page
        assert "only a superuser may grant or take away the Compliance Officers group" in page
        assert "nothing was imported" in page
        assert not User.objects.filter(username__in=["ian", "connie", "alice"]).exists()

    def test_a_dry_run_in_the_admin_shows_the_changes_and_writes_nothing(self):
        it_admin, _ = staff_client(None)  # a superuser: the example file grants roles
        UserFactory(username="alice", email="alice@example.com", display_name="Alice Archer", department="Trading")

        response = upload(it_admin, EXAMPLE_FILE.read_bytes(), dry_run=True)

        page = response.content.decode()
        assert "Dry run, nothing was written. Importing would give: 4 created, 1 updated, 0 unchanged." in page
        assert "department: “Trading” → “Sales”" in page
        assert list(User.objects.exclude(is_staff=True).values_list("username", "department")) == [("alice", "Trading")]

    def test_rows_with_errors_are_shown_with_their_lines_and_nothing_is_written(self):
        it_admin, _ = staff_client(roles.IT_ADMINS)

        response = upload(it_admin, csv_file("ann,ann@example.com,Ann,Sales,Rep,", "bob,bob@,Bob,,,"), dry_run=False)

        page = response.content.decode()
        assert response.status_code == 200
        assert "1 row with errors: nothing was imported" in page
        assert "<td>3</td>" in page
        assert "&#x27;bob@&#x27; is not a valid email address" in page
        assert not User.objects.filter(username__in=["ann", "bob"]).exists()

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "This is not a CSV text file"),
            ("username,email,name,department,title,groups\nrené,r@x.com,,,,\n".encode("cp1252"), "not UTF-8"),
            (b"username,email\nann,ann@example.com\n", "Missing required columns: name, department"),
            (b"", "The submitted file is empty."),
        ],
        ids=["picture", "windows-1252", "missing-columns", "empty"],
    )
    def test_a_bad_upload_is_refused_on_the_page_never_with_a_server_error(self, data, message):
        it_admin, _ = staff_client(roles.IT_ADMINS)

        response = upload(it_admin, data, dry_run=False, name="upload.bin")

        assert response.status_code == 200
        assert message in response.content.decode()
        assert not User.objects.filter(is_staff=False).exists()

    def test_no_file_at_all_is_a_form_error(self):
        it_admin, _ = staff_client(roles.IT_ADMINS)

        response = it_admin.post(reverse("admin:accounts_user_import"), {"dry_run": "on"})

        assert response.status_code == 200
        assert "This field is required." in response.content.decode()

    def test_a_too_large_upload_is_refused_before_it_is_read(self, monkeypatch):
        monkeypatch.setattr("accounts.user_import_admin.MAX_IMPORT_BYTES", 10)
        it_admin, _ = staff_client(roles.IT_ADMINS)

        response = upload(it_admin, EXAMPLE_FILE.read_bytes(), dry_run=True)

        assert "The file is larger than" in response.content.decode()

    @pytest.mark.parametrize("role", [roles.COMPLIANCE_OFFICERS, roles.EMPLOYEES])
    def test_a_compliance_officer_or_employee_gets_403_and_imports_nothing(self, role):
        client, _ = staff_client(role)

        page = client.get(reverse("admin:accounts_user_import"))
        response = upload(client, EXAMPLE_FILE.read_bytes(), dry_run=False)

        assert (page.status_code, response.status_code) == (403, 403)
        assert not User.objects.filter(is_staff=False).exists()

    def test_a_compliance_officer_sees_no_import_link_on_the_user_list(self):
        officer, _ = staff_client(roles.COMPLIANCE_OFFICERS)

        changelist = officer.get(reverse("admin:accounts_user_changelist"))

        assert changelist.status_code == 200
        assert reverse("admin:accounts_user_import") not in changelist.content.decode()

    def test_a_superuser_may_import(self):
        root, _ = staff_client(None)

        response = upload(root, csv_file("ann,ann@example.com,Ann,Sales,Rep,Employees"), dry_run=False)

        assert response.status_code == 200
        assert User.objects.filter(username="ann").exists()

    def test_an_imported_user_gets_a_password_through_the_admin_password_form(self):
        it_admin, _ = staff_client(roles.IT_ADMINS)
        upload(it_admin, csv_file("ann,ann@example.com,Ann,Sales,Rep,Employees"), dry_run=False)
        ann = User.objects.get(username="ann")

        change_page = it_admin.get(reverse("admin:accounts_user_change", args=[ann.pk])).content.decode()
        it_admin.post(
            reverse("admin:auth_user_password_change", args=[ann.pk]),
            {"usable_password": "true", "password1": "a-Fresh-passphrase-42", "password2": "a-Fresh-passphrase-42"},
        )

        assert "Set password" in change_page
        assert password_signs_in("ann", "a-Fresh-passphrase-42")
