"""The page's script is a tree of ES modules served as they are (no build step): every page
loads it as a module from this origin, every module it imports is there, and each is served
with a JavaScript MIME type (a browser refuses a module script without one)."""

from __future__ import annotations

import re

import pytest

from tests.support.node import MODULES_DIR

STATIC_DIR = MODULES_DIR.parent
MODULES = sorted([STATIC_DIR / "app.js", *MODULES_DIR.glob("*.js")])
IMPORT = re.compile(r'^import\s[^;]*?from\s+"([^"]+)";', re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("path", ["/login", "/register"])
def test_pages_load_the_script_as_a_module_and_no_inline_script(client, path):
    page = client.get(path)
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert ('type="module" src="/static/app.js"', "") in [
        (attrs.strip(), body) for attrs, body in scripts]
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_each_module_is_served_as_javascript(client, module):
    answer = client.get("/static/" + module.relative_to(STATIC_DIR).as_posix())
    assert answer.status_code == 200
    assert answer.mimetype in ("text/javascript", "application/javascript")
    # Revalidated at each use: after a deploy no page mixes an old module with a new one.
    assert answer.headers["Cache-Control"] == "no-cache"
    assert answer.headers["ETag"]
    answer.close()


def test_the_other_static_files_are_cached_for_a_while(client):
    answer = client.get("/static/app.css")
    assert "max-age=3600" in answer.headers["Cache-Control"]
    answer.close()


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_each_import_is_a_module_of_this_origin_that_exists(module):
    for target in IMPORT.findall(module.read_text()):
        assert target.startswith("./"), f"{module.name} imports {target} from elsewhere"
        assert (module.parent / target).resolve().is_file(), f"{module.name}: {target} missing"
