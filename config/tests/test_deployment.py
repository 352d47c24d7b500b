"""The deployment files say what README.md says: compose services, environment variables, the two commands."""

import json
import re
import shlex
from pathlib import Path

import yaml

from config.server import HANDSHAKE_TIMEOUT_SECONDS, daphne_arguments
from core.testing import BASE_DIR

README = (BASE_DIR / "README.md").read_text()
COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def readme_section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_starts_with_the_two_commands():
    assert "make run" in readme_section("Two commands")
    assert "make test" in readme_section("Two commands")


def test_every_compose_service_the_readme_names_exists_and_vice_versa():
    named_in_readme = set(re.findall(r"^- `([a-z-]+)`:", readme_section("Deployment"), flags=re.MULTILINE))

    assert named_in_readme == set(COMPOSE["services"])


def test_web_runs_daphne_on_the_asgi_app_after_migrations_and_with_its_dependencies():
    web = COMPOSE["services"]["web"]

    assert web["command"][0] == "daphne"
    assert "config.asgi:application" in web["command"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert {"redis", "clamav"} <= set(web["depends_on"])
    assert web["deploy"]["replicas"] >= 2


def test_every_place_that_starts_daphne_gives_it_the_same_options():
    dockerfile_cmd = next(
        line for line in (BASE_DIR / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    )
    make_run = next(
        line for line in (BASE_DIR / "Makefile").read_text().splitlines() if line.startswith("\t$(BIN)/daphne ")
    )
    python_starts = [
        (path.relative_to(BASE_DIR), start)
        for path in BASE_DIR.rglob("*.py")
        if ".venv" not in path.parts and path != Path(__file__)
        for start in re.findall(r'"-m", "daphne", ([^\]]*)\]', path.read_text())
    ]

    in_the_image = ["daphne", *daphne_arguments(host="0.0.0.0", port=8000)]  # noqa: S104 (inside a container)

    assert COMPOSE["services"]["web"]["command"] == in_the_image
    assert json.loads(dockerfile_cmd.removeprefix("CMD ")) == in_the_image
    assert " ".join(in_the_image) in readme_section("Deployment")
    assert shlex.split(make_run) == ["$(BIN)/daphne", *daphne_arguments(host="$(HOST)", port="$(PORT)")]
    assert {str(path) for path, _ in python_starts} == {"config/server.py"}  # daphne_process, which all call
    assert {start for _, start in python_starts} == {'*daphne_arguments(host="127.0.0.1", port=port)'}


def test_a_handshake_in_a_storm_waits_rather_than_being_reset_after_daphnes_default_5_s():
    arguments = daphne_arguments(host="127.0.0.1", port=8000)
    timeout = int(arguments[arguments.index("--websocket_connect_timeout") + 1])

    assert timeout == HANDSHAKE_TIMEOUT_SECONDS >= 30


def test_parley_services_are_configured_only_through_the_environment():
    for name in ("web", "migrate"):
        environment = COMPOSE["services"][name]["environment"]
        assert environment["PARLEY_ENV"] == "production"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://redis:")


def test_durable_state_lives_on_named_volumes():
    assert {"postgres-data", "parley-data", "clamav-db"} <= set(COMPOSE["volumes"])


def test_every_environment_variable_the_settings_read_is_documented_in_the_readme():
    settings_source = (BASE_DIR / "config" / "settings.py").read_text()
    read_by_settings = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', settings_source))

    undocumented = {name for name in read_by_settings if f"| `{name}` |" not in README}

    assert read_by_settings, "the pattern no longer finds how settings read the environment"
    assert undocumented == set()


def database_user(service: str) -> str:
    # Not urlsplit: the password is a compose `${VAR:?message}`, whose "?" would end the URL's host part.
    return re.match(r"postgres://([^:@/]+):", COMPOSE["services"][service]["environment"]["DATABASE_URL"])[1]


def test_only_migrate_connects_as_the_owner_and_it_grants_the_role_web_and_worker_use():
    migrate = COMPOSE["services"]["migrate"]["environment"]
    init_script = (BASE_DIR / "deploy" / "postgres-init" / "10-parley-roles.sh").read_text()

    assert database_user("migrate") == "parley_owner"
    assert database_user("web") == database_user("worker") == migrate["PARLEY_DATABASE_APP_ROLE"] == "parley_app"
    assert "parley_owner" not in {database_user("web"), database_user("worker")}
    assert COMPOSE["services"]["db"]["environment"]["POSTGRES_USER"] not in {database_user("web"), "parley_owner"}
    assert "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro" in COMPOSE["services"]["db"]["volumes"]
    assert "CREATE ROLE parley_owner LOGIN" in init_script
    assert "CREATE ROLE parley_app LOGIN" in init_script
    assert "OWNER TO parley_owner" in init_script
