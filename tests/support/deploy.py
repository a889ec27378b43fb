"""What the deployment checks share (tests/deploy/test_compose.py, tests/deploy/test_k8s.py):
reading the Dockerfile, and rendering the gateway's template and asking nginx whether it
accepts it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_TEMPLATE = ROOT / "gateway" / "nginx.conf.template"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def dockerfile_stages(path: Path) -> dict[str, dict]:
    """{stage name: {"base": FROM image or stage, "instructions": [(KEYWORD, args)]}}."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"#{len(stages)}"
            current = stages[name] = {"base": words[0], "instructions": []}
        elif current is not None:
            current["instructions"].append((keyword, args.strip()))
    return stages


def stage_chain(stages: dict, target: str) -> list[tuple[str, str]]:
    """The instructions that build ``target``, its parent stages' first."""
    stage = stages[target]
    inherited = stage_chain(stages, stage["base"]) if stage["base"] in stages else []
    return inherited + stage["instructions"]


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if Path(path).is_file()), None)


def gateway_template_directives() -> str:
    """The gateway template without its comments (which envsubst leaves alone)."""
    return re.sub(r"#.*", "", GATEWAY_TEMPLATE.read_text())


def render_gateway_template(env: dict[str, str]) -> str:
    """What the nginx image's envsubst step makes of the template: the defined variables
    (``$VAR`` and ``${VAR}``) replaced, everything else left as it is."""
    return Template(GATEWAY_TEMPLATE.read_text()).safe_substitute(env)


def nginx_test(nginx: str, rendered: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on the rendered gateway inside a minimal main configuration."""
    version_output = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    temp_paths = ["client_body", "proxy"] + [
        module for module in ("fastcgi", "uwsgi", "scgi")
        if f"--without-http_{module}_module" not in version_output]
    temp_lines = "\n".join(f"    {module}_temp_path {tmp_path / module};"
                           for module in temp_paths)
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path / 'nginx.pid'};\n"
        f"error_log {tmp_path / 'error.log'};\n"
        "events {}\n"
        "http {\n"
        f"    access_log {tmp_path / 'access.log'};\n"
        f"{temp_lines}\n"
        f"{rendered}\n"
        "}\n"
    )
    version = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version_output)
    # -e (the error log used before the config is read) exists since nginx 1.19.5.
    early_log = (["-e", str(tmp_path / "error.log")]
                 if version and tuple(map(int, version.groups())) >= (1, 19, 5) else [])
    return subprocess.run([nginx, "-t", "-p", str(tmp_path), *early_log, "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


def nginx_version(nginx: str) -> tuple[int, ...] | None:
    """The version of the nginx binary, e.g. (1, 22, 1)."""
    output = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", output)
    return tuple(map(int, found.groups())) if found else None
