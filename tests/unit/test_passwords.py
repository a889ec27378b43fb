"""Password rules and hashing, without a database."""

from __future__ import annotations

import pytest

from user_service.domain import AccountError
from user_service.passwords import (
    PasswordHashing,
    check_password,
    common_passwords,
    password_problems,
)

MIN = 8


def test_the_shipped_list_holds_the_ten_thousand_most_common_passwords():
    common = common_passwords()
    assert len(common) == 10_000
    assert {"123456", "password", "qwerty", "iloveyou", "sunshine"} <= common


@pytest.mark.parametrize("password", [
    "correct horse 42",
    "Tr0ub4dor&3x",
    "my cat is called Brian",
    "zebra-ukulele-41",
    "ünïcödé pässwörd",
])
def test_a_good_password_passes(password):
    assert password_problems(password, MIN) == []
    check_password(password, MIN)


@pytest.mark.parametrize("password, problem", [
    ("short", "at least 8 characters"),
    ("1234567", "at least 8 characters"),
    ("aaaaaaaaaaaa", "at least 5 different characters"),
    ("abababababab", "at least 5 different characters"),
    ("abcdefghijk", "runs"),
    ("87654321", "runs"),
    ("12345678901", "runs"),
    ("7890123456", "runs"),
    ("xyzabcdefg", "runs"),
    ("qwertyuiop", "runs"),
    ("password", "most common passwords"),
    ("PassWord", "most common passwords"),
    ("baseball", "most common passwords"),
    ("iloveyou", "most common passwords"),
    ("sunshine!", "common password with digits or symbols added"),
    ("dragon2024", "common password with digits or symbols added"),
    ("!!monkey12", "common password with digits or symbols added"),
    ("auction123", "the site's name"),
])
def test_a_weak_password_is_refused_saying_why(password, problem):
    problems = password_problems(password, MIN)
    assert any(problem in sentence for sentence in problems), problems


def test_a_password_made_of_the_accounts_email_or_name_is_refused():
    personal = ("ann.smith@example.com", "Annabel Smith")
    for password in ("ann.smith@example.com", "ann.smith", "Ann.Smith2024", "annabel smith!"):
        problems = password_problems(password, MIN, personal)
        assert any("your email address, your name" in p for p in problems), password
    assert password_problems("annabel's telescope 7", MIN, personal) == []


def test_the_minimum_length_is_a_setting():
    assert password_problems("zebra-uke", 12)[0] == "Use at least 12 characters."
    assert password_problems("zq#9x", 4) == []


def test_a_refusal_is_a_422_weak_password_naming_the_field_and_every_problem():
    with pytest.raises(AccountError) as refused:
        check_password("pass", MIN)
    error = refused.value
    assert (error.status, error.code) == (422, "weak_password")
    assert error.message.startswith("This password is too easy to guess.")
    assert "Use at least 8 characters." in error.message
    assert {item["field"] for item in error.details} == {"password"}
    assert len(error.details) == len(password_problems("pass", MIN)) >= 2


# --- hashing ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cheap():
    return PasswordHashing(time_cost=1, memory_cost=1024, parallelism=1)


def test_hashes_are_argon2id_with_the_configured_cost_and_a_fresh_salt(cheap):
    first, second = cheap.hash("correct horse 42"), cheap.hash("correct horse 42")
    assert first.startswith("$argon2id$")
    assert "m=1024,t=1,p=1" in first
    assert first != second


def test_verifying_accepts_the_password_and_nothing_else(cheap):
    stored = cheap.hash("correct horse 42")
    assert cheap.verify(stored, "correct horse 42")
    assert not cheap.verify(stored, "correct horse 43")
    assert not cheap.verify(stored, "")
    assert not cheap.verify(None, "correct horse 42"), "no account never verifies"
    assert not cheap.verify("not-a-hash", "correct horse 42")


def test_a_hash_made_with_other_parameters_needs_renewing(cheap):
    stronger = PasswordHashing(time_cost=2, memory_cost=2048, parallelism=1)
    old = cheap.hash("correct horse 42")
    assert stronger.needs_rehash(old)
    assert not cheap.needs_rehash(old)
    assert stronger.verify(old, "correct horse 42"), "old hashes still verify"
    assert cheap.needs_rehash("not-a-hash")
