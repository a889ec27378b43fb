"""Without any container engine: every image `make compose-up` may have to stand in for has a
recipe, under the name Docker would give the real one."""

from __future__ import annotations

import yaml

from tools import compose_run, standins


def compose_config() -> dict:
    """docker-compose.yml with its build contexts made absolute, as `compose config` gives."""
    config = yaml.safe_load(compose_run.COMPOSE_FILE.read_text())
    for spec in config["services"].values():
        if spec.get("build"):
            spec["build"]["context"] = str(compose_run.ROOT / spec["build"]["context"])
    return config


def test_every_base_image_of_the_compose_file_has_a_stand_in():
    images = compose_run.base_images(compose_config())
    # The infrastructure images the file runs, and the Dockerfile's own base.
    assert "python:3.11-slim" in images
    assert {standins.repository(image) for image in images} >= {
        "postgres", "rabbitmq", "redis", "nginx", "axllent/mailpit", "python"}
    assert [image for image in images if standins.recipe_for(image) is None] == []


def test_stand_ins_are_tagged_with_the_name_docker_gives_the_real_image():
    assert standins.qualified("postgres:16-alpine") == "docker.io/library/postgres:16-alpine"
    assert standins.qualified("axllent/mailpit:v1.27") == "docker.io/axllent/mailpit:v1.27"
    assert standins.qualified("ghcr.io/org/app:1") == "ghcr.io/org/app:1"
    assert standins.repository("docker.io/library/nginx:1.27-alpine") == "nginx"


def test_each_distinct_image_is_built_once():
    builds = compose_run.build_commands(compose_config())
    images = {spec["image"] for spec in compose_config()["services"].values()
              if spec.get("build")}
    assert set(builds) == images
    frontend = builds["auction-platform/frontend:local"]
    assert frontend[frontend.index("--target") + 1] == "frontend"
    assert "SERVICE=frontend" in frontend


def test_a_recipe_change_changes_its_cache_key():
    recipe = standins.RECIPES["redis"]
    changed = standins.Recipe(**{**recipe.__dict__, "packages": (*recipe.packages, "procps")})
    assert changed.digest() != recipe.digest()
    assert recipe.digest() == standins.RECIPES["redis"].digest()
