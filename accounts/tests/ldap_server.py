"""A real OpenLDAP server (Debian's slapd) for the LDAP tests: a throwaway mdb database on a free loopback port,
configured from a slapd.conf in the test's tmp dir and loaded with the company in ldif/company.ldif through
ldapadd, the way an operator would. The system's slapd service is neither used nor started."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.testing import ChildProcess, free_port, service_missing

SLAPD = Path("/usr/sbin/slapd")
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
COMPANY_LDIF = Path(__file__).parent / "ldif" / "company.ldif"
SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "admin-secret"
READER_DN = f"cn=parley-reader,ou=services,{SUFFIX}"
READER_PASSWORD = "reader-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"


def person_dn(uid: str) -> str:
    """The DN of a person in the company's tree."""
    return f"uid={uid},{PEOPLE}"


def require_slapd() -> None:
    """OpenLDAP's server and clients (slapd, ldap-utils) and python-ldap; under CI=true missing means failed."""
    missing = []
    if not SLAPD.exists():
        missing.append(f"slapd at {SLAPD} (apt-get install slapd)")
    if shutil.which("ldapadd") is None:
        missing.append("ldapadd (apt-get install ldap-utils)")
    try:
        import ldap  # noqa: F401
    except ImportError:
        missing.append("python-ldap (pip install -r requirements-ldap.txt)")
    if missing:
        service_missing(f"missing for the LDAP tests: {', '.join(missing)}")


@dataclass
class SlapdServer(ChildProcess):
    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def connection(self):
        """A python-ldap connection bound as the directory's administrator, for tests that change people."""
        import ldap

        connection = ldap.initialize(self.uri)
        connection.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
        return connection

    def replace(self, dn: str, attribute: str, *values: str) -> None:
        """Set `attribute` of `dn` to `values` (none: remove it), as HR's tools would."""
        import ldap

        connection = self.connection()
        try:
            connection.modify_s(dn, [(ldap.MOD_REPLACE, attribute, [value.encode() for value in values] or None)])
        finally:
            connection.unbind_s()

    def add_person(self, uid: str, **attributes: str) -> str:
        import ldap.modlist

        dn = person_dn(uid)
        entry = {"objectClass": "inetOrgPerson", "uid": uid, "cn": uid.title(), "sn": uid.title(), **attributes}
        connection = self.connection()
        try:
            connection.add_s(dn, ldap.modlist.addModlist({k: [v.encode()] for k, v in entry.items()}))
        finally:
            connection.unbind_s()
        return dn

    def delete(self, dn: str) -> None:
        connection = self.connection()
        try:
            connection.delete_s(dn)
        finally:
            connection.unbind_s()


def start_slapd(tmp_dir: Path, ldif: Path = COMPANY_LDIF, reader_limits: str = "size.prtotal=unlimited") -> SlapdServer:
    """Start slapd in the foreground on a free port with an empty database, wait until it answers, load `ldif`.
    `reader_limits` are the reader account's search limits (slapd.conf's `limits`)."""
    require_slapd()
    home = (tmp_dir / "slapd").resolve()
    (home / "data").mkdir(parents=True)
    schemas = "".join(f"include {SCHEMA_DIR / name}.schema\n" for name in ("core", "cosine", "inetorgperson", "nis"))
    config = home / "slapd.conf"
    config.write_text(
        f"{schemas}modulepath {MODULE_DIR}\nmoduleload back_mdb\npidfile {home / 'slapd.pid'}\n"
        f'database mdb\nmaxsize 104857600\nsuffix "{SUFFIX}"\nrootdn "{ROOT_DN}"\nrootpw {ROOT_PASSWORD}\n'
        f"directory {home / 'data'}\n"
        # slapd's default limit (500 entries per search, paged or not) would cut the sync short; the reader may
        # page through everyone, as docs/directory.md tells OpenLDAP operators to allow.
        f'limits dn.exact="{READER_DN}" {reader_limits}\n'
        # Everyone may read the tree (the reader account searches it); a password only serves to sign in.
        "access to attrs=userPassword by self write by anonymous auth by * none\n"
        "access to * by * read\n"
    )
    port = free_port()
    log_path = home / "slapd.log"
    with log_path.open("wb") as log:
        # -d keeps slapd in the foreground (so the test owns the process); "stats" logs binds and searches.
        process = subprocess.Popen(
            [str(SLAPD), "-f", str(config), "-h", f"ldap://127.0.0.1:{port}/", "-d", "stats"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = SlapdServer(port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with {process.returncode}:\n{server.log()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"slapd did not answer on port {port} within 15 s:\n{server.log()}") from None
            time.sleep(0.05)
    loaded = subprocess.run(
        [shutil.which("ldapadd"), "-x", "-H", server.uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD, "-f", str(ldif)],
        capture_output=True,
        text=True,
    )
    if loaded.returncode != 0:
        server.stop()
        raise RuntimeError(f"ldapadd failed ({loaded.returncode}): {loaded.stderr}\n{server.log()}")
    return server


BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.ldap.ParleyLDAPBackend",
    "accounts.backends.LocalPasswordBackend",
]


@pytest.fixture
def directory(tmp_path, settings):
    """The company's OpenLDAP, and Parley configured for it as docs/directory.md describes for OpenLDAP."""
    server = start_slapd(tmp_path)
    settings.PARLEY_LDAP_SERVER_URI = server.uri
    settings.PARLEY_LDAP_BIND_DN = READER_DN
    settings.PARLEY_LDAP_BIND_PASSWORD = READER_PASSWORD
    settings.PARLEY_LDAP_USER_SEARCH_BASE = PEOPLE
    settings.PARLEY_LDAP_USER_FILTER = "(uid=%(user)s)"
    settings.PARLEY_LDAP_SYNC_FILTER = "(objectClass=inetOrgPerson)"
    settings.PARLEY_LDAP_DISABLED_FILTER = "(employeeType=disabled)"
    settings.PARLEY_LDAP_ATTR_USERNAME = "uid"
    settings.PARLEY_LDAP_ATTR_DEPARTMENT = "departmentNumber"
    settings.PARLEY_LDAP_GROUP_SEARCH_BASE = GROUPS
    settings.PARLEY_LDAP_GROUP_TYPE = "groupOfNames"
    settings.PARLEY_LDAP_ROLE_GROUPS = f"IT Admins=cn=it,{GROUPS}; Compliance Officers=cn=compliance,{GROUPS}"
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    yield server
    server.stop()
