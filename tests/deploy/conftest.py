"""Deployment tests: a failing test against the compose stack says what its services logged."""

from __future__ import annotations

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    stack = getattr(item, "funcargs", {}).get("stack")
    compose = getattr(stack, "compose", None)
    if compose is None:
        return
    try:
        names = sorted(compose.config()["services"])
    except Exception as error:  # the report must not fail for want of logs
        report.sections.append(("compose logs", f"could not read the services: {error}"))
        return
    for name in names:
        try:
            text = compose.logs(name, tail=40)
        except Exception as error:
            text = f"no logs: {error}"
        report.sections.append((f"compose logs: {name}", text))
