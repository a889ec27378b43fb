"""The `docker compose up` shape, checked without a Docker engine.

docker-compose.yml is read as data; the checks are the mistakes that otherwise show up only
when the stack is started: a dependency on a service that does not exist or never becomes
healthy, a port published to the world, a password that differs between PostgreSQL and the
service that logs in with it, a gateway template that nginx rejects.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.deploy import (
    ROOT,
    dockerfile_stages,
    find_nginx,
    gateway_template_directives,
    nginx_test,
    render_gateway_template,
    stage_chain,
)

COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
POSTGRES_INIT = ROOT / "deploy" / "postgres" / "init.sh"

#: Each service package, the database role it logs in as and the schema that role owns.
SERVICE_DATABASE_ROLES = {
    "user_service": ("users_svc", "users"),
    "auction_service": ("auctions_svc", "auctions"),
    "bidding_service": ("bidding_svc", "bidding"),
    "notification_service": ("notifications_svc", "notifications"),
}
#: Every package an image may be built for (the build arg SERVICE).
IMAGE_PACKAGES = set(SERVICE_DATABASE_ROLES) | {"frontend"}
VALID_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
LONG_RUNNING_RESTART = "unless-stopped"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME; $$ escapes.
VARIABLE = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


# ---- reading the compose file ----------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


def interpolate(value: str) -> str:
    """A value as compose sees it with no variables set: each ``${VAR:-default}`` becomes its
    default (and a bare ``${VAR}`` the empty string)."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("op") in (":-", "-"):
            return match.group("arg")
        return ""

    return VARIABLE.sub(replace, value)


def strings_in(value) -> list[str]:
    """Every string in a parsed YAML document (what compose interpolates; not the comments)."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return [value] if isinstance(value, str) else []


def variable_references(compose: dict) -> list[re.Match]:
    """Each ``${VAR...}``/``$VAR`` reference in the compose file (``$$`` escapes excluded)."""
    return [match for text in strings_in(compose) for match in VARIABLE.finditer(text)
            if match.group(0) != "$$"]


def environment(service: dict) -> dict[str, str]:
    """A service's environment as a dict (compose accepts a map or a list of KEY=VALUE)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def dependencies(service: dict) -> dict[str, str]:
    """``depends_on`` as {service: condition} (the list form means ``service_started``)."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return {name: "service_started" for name in depends_on}
    return {name: (spec or {}).get("condition", "service_started")
            for name, spec in depends_on.items()}


def command(service: dict) -> list[str]:
    value = service.get("command") or []
    return value.split() if isinstance(value, str) else [str(part) for part in value]


def volume_mounts(service: dict) -> list[tuple[str, str, bool]]:
    """Each mount as (source, target, read_only), from the short or the long syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            source, target = parts[0], parts[1]
            read_only = len(parts) > 2 and "ro" in parts[2].split(",")
        else:
            source, target = volume.get("source", ""), volume["target"]
            read_only = bool(volume.get("read_only"))
        mounts.append((source, target, read_only))
    return mounts


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "~", "$"))


def one_shot_services(services: dict) -> set[str]:
    """Services something waits for to *finish* (key generation, migrations)."""
    return {name for service in services.values()
            for name, condition in dependencies(service).items()
            if condition == "service_completed_successfully"}


def python_service_processes(services: dict) -> dict[str, str]:
    """{compose service: package} for every process of a service package (migrate, web,
    worker, realtime): the ones that talk to PostgreSQL and RabbitMQ."""
    found = {}
    for name, service in services.items():
        argv = command(service)
        for package in SERVICE_DATABASE_ROLES:
            runs_module = argv[:2] == ["python", "-m"] and len(argv) > 2 and (
                argv[2] == package or argv[2].startswith(package + "."))
            serves_app = argv[:1] == ["gunicorn"] and any(
                part.startswith(package + ".") for part in argv)
            if runs_module or serves_app:
                found[name] = package
    return found


# ---- reading the Dockerfile ------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    path = ROOT / ".dockerignore"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.strip().rstrip("/") for line in lines
            if line.strip() and not line.lstrip().startswith("#")]


def is_dockerignored(relative: str, patterns: list[str]) -> bool:
    """Whether ``relative`` (or a folder above it) is left out of the build context."""
    parts = Path(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        bare = pattern[3:] if pattern.startswith("**/") else None
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern) or (
                bare is not None and fnmatch.fnmatchcase(candidate.rsplit("/", 1)[-1], bare)
            ):
                ignored = not negate
    return ignored


def built_images(services: dict) -> dict[tuple, list[str]]:
    """{(context, dockerfile, target, SERVICE): [compose services built that way]}."""
    images: dict[tuple, list[str]] = {}
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        key = (build.get("context", "."), build.get("dockerfile", "Dockerfile"),
               build.get("target"), (build.get("args") or {}).get("SERVICE"))
        images.setdefault(key, []).append(name)
    return images


# ---- the images ------------------------------------------------------------------------------


def test_every_build_names_a_context_and_a_dockerfile_that_exist(services):
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        assert isinstance(build, dict), f"{name}: name the context and dockerfile explicitly"
        context = ROOT / build["context"]
        assert context.is_dir(), f"{name}: build context {build['context']} does not exist"
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        stages = dockerfile_stages(dockerfile)
        assert build.get("target") in stages, f"{name}: no stage {build.get('target')!r}"


def test_each_image_is_built_for_a_known_package(services):
    for (_, _, target, package), names in built_images(services).items():
        assert package in IMAGE_PACKAGES, f"{names}: build arg SERVICE={package!r}"
        assert (target == "frontend") == (package == "frontend"), (
            f"{names}: the frontend (and only it) builds the 'frontend' stage")


def test_services_sharing_an_image_name_build_it_the_same_way(services):
    builds_by_image: dict[str, list] = {}
    for name, service in services.items():
        if "build" in service:
            builds_by_image.setdefault(service.get("image", name), []).append(service["build"])
    for image, builds in builds_by_image.items():
        assert all(build == builds[0] for build in builds), f"{image} is built two ways"


def test_images_copy_only_what_exists_in_the_build_context(services):
    patterns = dockerignore_patterns()
    for (context, dockerfile, target, package), names in built_images(services).items():
        stages = dockerfile_stages(ROOT / context / dockerfile)
        for keyword, args in stage_chain(stages, target):
            if keyword != "COPY" or "--from" in args:
                continue
            sources = [word for word in args.split() if not word.startswith("--")][:-1]
            for source in sources:
                source = source.replace("${SERVICE}", package).replace("$SERVICE", package)
                assert not is_dockerignored(source, patterns), (
                    f"{names}: COPY {source} is excluded by .dockerignore")
                if source.rstrip("/") in IMAGE_PACKAGES and not (ROOT / source).exists():
                    continue  # a service package not written yet; its name is checked above
                assert (ROOT / context / source).exists(), f"{names}: COPY {source}: missing"


def test_images_run_as_a_non_root_user(services):
    for (context, dockerfile, target, _), names in built_images(services).items():
        stages = dockerfile_stages(ROOT / context / dockerfile)
        users = [args for keyword, args in stage_chain(stages, target) if keyword == "USER"]
        assert users and users[-1].split(":")[0] not in ("root", "0"), f"{names}: runs as root"


def test_images_install_the_pinned_requirements_without_a_cache(services):
    for (context, dockerfile, target, _), names in built_images(services).items():
        stages = dockerfile_stages(ROOT / context / dockerfile)
        runs = " ".join(args for keyword, args in stage_chain(stages, target) if keyword == "RUN")
        assert "pip install --no-cache-dir -r requirements.txt" in runs, names


def test_the_build_context_leaves_out_local_state_and_tests():
    patterns = dockerignore_patterns()
    for path in (".venv", "var", ".git", "tests", "bench", "node_modules",
                 "user_service/__pycache__", ".env"):
        assert is_dockerignored(path, patterns), f"{path} would be sent to the builder"
    for path in ("requirements.txt", "auction_common", "user_service/wsgi.py"):
        assert not is_dockerignored(path, patterns), f"{path} is needed by the images"


def test_every_command_runs_a_module_of_its_package(services):
    for name, service in services.items():
        argv = command(service)
        modules = []
        if argv[:2] == ["python", "-m"]:
            modules.append(argv[2])
        if argv[:1] == ["gunicorn"]:
            modules.append(argv[-1].split(":")[0])
        for module in modules:
            package = ROOT / module.split(".")[0]
            if not package.is_dir():
                continue  # a service package not written yet
            path = ROOT / module.replace(".", "/")
            runnable = (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file())
            if argv[:2] == ["python", "-m"] and path.is_dir():
                runnable = (path / "__main__.py").is_file()
            assert runnable, f"{name}: {module} is not a module of {package.name}"


# ---- start-up order and health -----------------------------------------------------------------


def test_dependencies_name_defined_services_with_a_valid_condition(services):
    for name, service in services.items():
        for dependency, condition in dependencies(service).items():
            assert dependency in services, f"{name} depends on undefined {dependency}"
            assert condition in VALID_CONDITIONS, f"{name} -> {dependency}: {condition}"


def test_a_healthy_dependency_has_a_healthcheck_and_a_finished_one_exits(services):
    for name, service in services.items():
        for dependency, condition in dependencies(service).items():
            target = services[dependency]
            if condition == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dependency} to be healthy"
            if condition == "service_completed_successfully":
                assert target.get("restart", "no") == "no", (
                    f"{name} waits for {dependency} to finish, but it is restarted")


def test_start_up_order_has_no_cycle(services):
    visiting, done = set(), set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in visiting, f"dependency cycle: {' -> '.join(path + [name])}"
        if name in done:
            return
        visiting.add(name)
        for dependency in dependencies(services[name]):
            visit(dependency, path + [name])
        visiting.discard(name)
        done.add(name)

    for name in services:
        visit(name, [])


def test_every_service_is_either_a_one_shot_or_long_running_with_a_healthcheck(services):
    one_shots = one_shot_services(services)
    for name, service in services.items():
        if name in one_shots:
            assert service.get("restart", "no") == "no", f"one-shot {name} must not restart"
            continue
        assert service.get("restart") == LONG_RUNNING_RESTART, f"{name}: restart policy"
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), f"{name}: healthcheck"


def test_long_running_service_processes_start_after_their_migration(services):
    for name, package in python_service_processes(services).items():
        if name.endswith("-migrate"):
            assert "postgres" in dependencies(services[name]), name
            continue
        waits_for = {dependency for dependency, condition in dependencies(services[name]).items()
                     if condition == "service_completed_successfully"}
        migrations = {dependency for dependency in waits_for
                      if python_service_processes(services).get(dependency) == package
                      and dependency.endswith("-migrate")}
        assert migrations, f"{name} starts before {package}'s migration has run"
        assert "keygen" in waits_for, f"{name} may start before the JWT keys exist"


def test_the_gateway_starts_after_every_upstream_it_names(services):
    gateway = services["gateway"]
    upstream_hosts = {value.split(":")[0] for key, value in environment(gateway).items()
                      if key.endswith("_ADDR")}
    assert upstream_hosts <= set(services), upstream_hosts - set(services)
    assert upstream_hosts <= set(dependencies(gateway)), (
        "nginx resolves upstream names at start: "
        f"{upstream_hosts - set(dependencies(gateway))} may not exist yet")


# ---- what is reachable -----------------------------------------------------------------------


def published_ports(service: dict) -> list[tuple[str, str]]:
    """Each published port as (host ip, "host_port:container_port")."""
    found = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            found.append((port.get("host_ip", ""),
                          f"{port.get('published', '')}:{port.get('target')}"))
            continue
        spec = interpolate(str(port))
        parts = spec.split(":")
        host_ip = parts[0] if len(parts) == 3 else ""
        found.append((host_ip, ":".join(parts[-2:])))
    return found


def test_only_the_gateway_is_published_beyond_this_machine(services):
    for name, service in services.items():
        for host_ip, mapping in published_ports(service):
            if name == "gateway":
                continue
            assert host_ip == "127.0.0.1", f"{name} publishes {mapping} on every interface"
    assert services["gateway"]["ports"] == ["${GATEWAY_PORT:-8080}:8080"]


def test_every_process_behind_the_gateway_listens_beyond_its_own_container(services):
    for key, address in environment(services["gateway"]).items():
        if not key.endswith("_ADDR"):
            continue
        host, port = address.split(":")
        service = services[host]
        argv = command(service)
        if argv[:1] == ["gunicorn"]:
            assert argv[argv.index("--bind") + 1] == f"0.0.0.0:{port}", host
        elif argv[:2] == ["python", "-m"]:
            env = environment(service)
            assert (env.get("HOST"), env.get("PORT")) == ("0.0.0.0", port), host


def test_the_gateway_listens_where_it_is_published_and_where_the_frontend_calls_it(services):
    gateway_port = environment(services["gateway"])["GATEWAY_PORT"]
    assert published_ports(services["gateway"]) == [("", f"8080:{gateway_port}")]
    assert environment(services["frontend"])["API_URL"] == f"http://gateway:{gateway_port}"


# ---- configuration -----------------------------------------------------------------------------


def postgres_roles() -> dict[str, tuple[str, str]]:
    """{role: (schema, password variable)} as the PostgreSQL init script creates them."""
    found = re.findall(r'^create_service_role (\w+) (\w+) "\$(\w+)"',
                       POSTGRES_INIT.read_text(), flags=re.M)
    return {role: (schema, variable) for role, schema, variable in found}


def test_the_init_script_creates_one_role_and_schema_per_service():
    created = {role: schema for role, (schema, _) in postgres_roles().items()}
    assert created == dict(SERVICE_DATABASE_ROLES.values())


def test_service_processes_have_the_shared_settings(services):
    processes = python_service_processes(services)
    assert len(processes) >= 3 * len(SERVICE_DATABASE_ROLES) + 1  # migrate, web, worker; realtime
    for name in processes:
        env = environment(services[name])
        for key in ("DATABASE_URL", "EVENT_BUS", "AMQP_URL", "JWT_PUBLIC_KEY_FILE", "LOG_JSON"):
            assert env.get(key), f"{name}: {key} is not set"
        assert env["EVENT_BUS"] == "rabbitmq", name


def test_each_service_logs_in_as_its_own_role_with_the_password_postgres_gave_it(services):
    postgres_env = environment(services["postgres"])
    roles = postgres_roles()
    for name, package in python_service_processes(services).items():
        url = environment(services[name])["DATABASE_URL"]
        match = re.fullmatch(r"postgresql\+psycopg2://(\w+):(.+)@postgres:5432/(\w+)", url)
        assert match, f"{name}: DATABASE_URL {url}"
        role, password, database = match.groups()
        assert role == SERVICE_DATABASE_ROLES[package][0], f"{name} logs in as {role}"
        assert database == postgres_env["POSTGRES_DB"] == "auction"
        assert password == postgres_env[roles[role][1]], (
            f"{name}: its password is not the one the init script gives {role}")


def test_every_broker_client_uses_the_broker_user(services):
    rabbit_env = environment(services["rabbitmq"])
    expected = (f"amqp://{rabbit_env['RABBITMQ_DEFAULT_USER']}:"
                f"{rabbit_env['RABBITMQ_DEFAULT_PASS']}@rabbitmq:5672/%2F")
    for name in python_service_processes(services):
        assert environment(services[name])["AMQP_URL"] == expected, name


def test_only_user_service_sees_the_private_key(services):
    processes = python_service_processes(services)
    for name, service in services.items():
        env = environment(service)
        mounts = {target: source for source, target, _ in volume_mounts(service)}
        for variable in ("JWT_PUBLIC_KEY_FILE", "JWT_PRIVATE_KEY_FILE"):
            if variable in env:
                folder = str(Path(env[variable]).parent)
                assert folder in mounts, f"{name}: {env[variable]} is in no volume it mounts"
        private_volume = next(source for source, target, _ in volume_mounts(services["keygen"])
                              if target == "/run/keys")
        if private_volume in mounts.values() and name != "keygen":
            assert processes.get(name) == "user_service", f"{name} mounts the private key"
            assert all(read_only for source, _, read_only in volume_mounts(service)
                       if source == private_volume), f"{name} may write the keys"


def test_uploaded_media_is_where_the_gateway_serves_it(services):
    gateway_root = environment(services["gateway"])["MEDIA_ROOT"]
    gateway_volume = {target: source for source, target, _ in volume_mounts(services["gateway"])}
    for name, package in python_service_processes(services).items():
        if package != "auction_service" or name.endswith("-migrate"):
            continue
        env = environment(services[name])
        mounts = {target: source for source, target, _ in volume_mounts(services[name])}
        assert env["MEDIA_ROOT"] == gateway_root, name
        assert mounts.get(gateway_root) == gateway_volume[gateway_root], name


def test_named_volumes_are_declared_and_bind_mounts_exist(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for source, _, _ in volume_mounts(service):
            if is_named_volume(source):
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
            elif source:
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"
    assert declared == used, f"declared but unused: {declared - used}"


def test_every_variable_is_listed_in_env_example(compose):
    # A missing file fails (see _listed_in_env_example), never skips: a skip would hide
    # exactly what this guards.
    listed = _listed_in_env_example()
    used = {match.group("braced") or match.group("bare") for match in variable_references(compose)}
    missing = used - listed
    assert not missing, f"used in docker-compose.yml, missing from .env.example: {missing}"


def _listed_in_env_example() -> set[str]:
    assert ENV_EXAMPLE.exists(), ".env.example is missing: it lists every variable to set"
    return set(re.findall(r"^\s*#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))


def _variables_read_by(settings_class) -> set[str]:
    """The environment variables a settings class reads (field names, or their aliases)."""
    names = set()
    for name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias]) if alias is not None else [name]
        names |= {str(choice).upper() for choice in choices}
    return names


@pytest.mark.parametrize("module", ["user_service.settings", "auction_service.settings",
                                    "bidding_service.settings", "notification_service.settings",
                                    "frontend.settings"])
def test_every_setting_a_service_reads_is_listed_in_env_example(module):
    import importlib

    from pydantic_settings import BaseSettings

    classes = [value for value in vars(importlib.import_module(module)).values()
               if isinstance(value, type) and issubclass(value, BaseSettings)
               and value.__module__ == module]
    assert classes, f"{module} defines no settings class"
    missing = set().union(*map(_variables_read_by, classes)) - _listed_in_env_example()
    assert not missing, f"{module} reads these, missing from .env.example: {sorted(missing)}"


def test_every_variable_has_a_default_so_up_works_without_a_dot_env(compose):
    for match in variable_references(compose):
        assert match.group("op") in (":-", "-"), f"{match.group(0)} has no default"


def test_docker_compose_accepts_the_file():
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client")
    version = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if version.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


# ---- the gateway -------------------------------------------------------------------------------


def test_the_gateway_defines_every_template_variable_and_shadows_no_nginx_variable(services):
    env = environment(services["gateway"])
    text = gateway_template_directives()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    nginx_variables = set(re.findall(r"\$(\w+)", text))
    assert placeholders <= set(env), f"not set for the gateway: {placeholders - set(env)}"
    assert not (nginx_variables & set(env)), (
        f"envsubst would replace nginx's own {nginx_variables & set(env)}")


def test_the_rendered_gateway_config_passes_nginx_t(services, tmp_path):
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    env = {key: interpolate(value) for key, value in environment(services["gateway"]).items()}
    # Compose's host names resolve only inside compose; nginx -t resolves every upstream.
    env = {key: re.sub(r"^[\w.-]+:(\d+)$", r"127.0.0.1:\1", value) if key.endswith("_ADDR")
           else value for key, value in env.items()}
    rendered = render_gateway_template(env)
    leftover = re.search(r"\$\{\w+\}", re.sub(r"#.*", "", rendered))
    assert not leftover, f"{leftover.group(0)} was left unrendered"

    result = nginx_test(nginx, rendered, tmp_path)
    assert result.returncode == 0, result.stderr
