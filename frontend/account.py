"""Register, sign in, sign out: forms over user_service's ``/api/auth`` routes."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from .api_client import ApiError
from .auth import api, safe_next

bp = Blueprint("account", __name__)


def _form_failure(template: str, exc: ApiError, form: dict, **context):
    """Re-render ``template`` with the API's messages, keeping what the user typed."""
    status = exc.status if 400 <= exc.status < 500 else 503
    return render_template(template, form=form, errors=exc.field_errors, message=exc.message,
                           **context), status


def _missing_fields(form: dict, password: str, required: tuple[str, ...]) -> dict[str, str]:
    """Messages for the required fields left empty (before asking the API)."""
    errors = {name: "This field is required." for name in required if not form.get(name)}
    if not password:
        errors["password"] = "Enter a password."
    return errors


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create an account, then sign in with it."""
    next_url = safe_next(request.values.get("next"))
    form = {"email": "", "display_name": ""}
    if request.method == "GET":
        return render_template("register.html", form=form, errors={}, next=next_url)

    form = {
        "email": request.form.get("email", "").strip(),
        "display_name": request.form.get("display_name", "").strip(),
    }
    password = request.form.get("password", "")
    errors = _missing_fields(form, password, ("email", "display_name"))
    if errors:
        return render_template("register.html", form=form, errors=errors, next=next_url,
                               message="Please fill in every field."), 422
    try:
        api().register(form["email"], password, form["display_name"])
    except ApiError as exc:
        return _form_failure("register.html", exc, form, next=next_url)
    try:
        pair = api().login(form["email"], password)
    except ApiError:
        flash("Your account is ready: please sign in.", "success")
        return redirect(url_for("account.login", next=next_url))
    flash(f"Welcome, {pair['user'].get('display_name', '')}!", "success")
    return redirect(next_url)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    next_url = safe_next(request.values.get("next"))
    form = {"email": ""}
    if request.method == "GET":
        return render_template("login.html", form=form, errors={}, next=next_url)

    form = {"email": request.form.get("email", "").strip()}
    password = request.form.get("password", "")
    errors = _missing_fields(form, password, ("email",))
    if errors:
        return render_template("login.html", form=form, errors=errors, next=next_url,
                               message="Enter your email and password."), 422
    try:
        pair = api().login(form["email"], password)
    except ApiError as exc:
        return _form_failure("login.html", exc, form, next=next_url)
    flash(f"Hello, {pair['user'].get('display_name', '')}.", "success")
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """Revoke the refresh token and forget both cookies (even when the API cannot be reached)."""
    try:
        api().logout()
    except ApiError:
        pass
    flash("You are signed out.", "info")
    return redirect(url_for("pages.index"))
