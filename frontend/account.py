"""Register, sign in, sign out, one's own account, public profiles: forms over user_service's
``/api/auth`` and ``/api/users`` routes."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .api_client import ApiErrorAnswer
from .auth import api, current_user, login_required, public_user, safe_next

bp = Blueprint("account", __name__)


def _form_failure(template: str, exc: ApiErrorAnswer, form: dict, **context):
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
    except ApiErrorAnswer as exc:
        return _form_failure("register.html", exc, form, next=next_url)
    try:
        pair = api().login(form["email"], password)
    except ApiErrorAnswer:
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
    except ApiErrorAnswer as exc:
        return _form_failure("login.html", exc, form, next=next_url)
    flash(f"Hello, {pair['user'].get('display_name', '')}.", "success")
    return redirect(next_url)


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    """"Forgot password?": ask for a link to choose a new one, by email."""
    form = {"email": request.values.get("email", "").strip()}
    if request.method == "GET":
        return render_template("forgot_password.html", form=form, errors={})
    if not form["email"]:
        return render_template("forgot_password.html", form=form,
                               errors={"email": "Enter the email of your account."},
                               message="Which account?"), 422
    try:
        api().request_password_reset(form["email"])
    except ApiErrorAnswer as exc:
        return _form_failure("forgot_password.html", exc, form)
    return render_template("forgot_password.html", form=form, errors={}, sent=True)


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():
    """The emailed link: choose a new password (every session of the account ends)."""
    token = request.values.get("token", "")
    if request.method == "GET":
        return render_template("reset_password.html", token=token, form={}, errors={})
    password = request.form.get("new_password", "")
    if not password:
        return render_template("reset_password.html", token=token, form={},
                               errors={"new_password": "Enter a new password."},
                               message="Choose a new password."), 422
    try:
        api().reset_password(token, password)
    except ApiErrorAnswer as exc:
        return _form_failure("reset_password.html", exc, {}, token=token)
    if g.tokens.signed_in:  # whoever was signed in in this browser is signed out too
        g.tokens.clear()
    flash("Your new password is set: sign in with it.", "success")
    return redirect(url_for("account.login"))


@bp.post("/logout")
def logout():
    """Revoke the refresh token and forget both cookies (even when the API cannot be reached)."""
    try:
        api().logout()
    except ApiErrorAnswer:
        pass
    flash("You are signed out.", "info")
    return redirect(url_for("pages.index"))


#: What the account page calls each kind of notification (a kind it does not know yet is
#: shown by its name).
EMAIL_KINDS = {
    "outbid": "Someone outbids me",
    "won": "I win an auction",
    "lost": "An auction I bid on ends and I did not win",
    "listing_ended": "A listing of mine ends",
    "ending_soon": "An auction I watch is about to end",
}


def _email_choices() -> dict[str, bool] | None:
    """The user's email choices, or None while notification_service cannot be reached (the
    rest of the page still works)."""
    try:
        return api().email_preferences()
    except ApiErrorAnswer as exc:
        if exc.status == 401:
            raise
        return None


def _account_page(account: dict, forms: dict, errors: dict, message: str | None = None,
                  status: int = 200):
    return render_template("account.html", account=account, forms=forms, errors=errors,
                           message=message, email=_email_choices(), email_kinds=EMAIL_KINDS
                           ), status


@bp.route("/account", methods=["GET", "POST"])
@login_required
def settings():
    """The signed-in user's account: change the display name, the password, and which
    notifications also come by email."""
    account = api().me()
    forms = {"name": {"display_name": account["display_name"]}, "password": {}}
    if request.method == "GET":
        return _account_page(account, forms, {})

    action = request.form.get("action")
    if action == "name":
        forms["name"] = {"display_name": request.form.get("display_name", "").strip()}
        if not forms["name"]["display_name"]:
            return _account_failure(account, forms, {"display_name": "Enter a display name."})
        try:
            updated = api().update_me(display_name=forms["name"]["display_name"])
        except ApiErrorAnswer as exc:
            return _account_failure(account, forms, exc.field_errors, exc)
        g.tokens.user = public_user(updated)
        g.tokens.changed = True
        flash("Your display name is saved.", "success")
        return redirect(url_for("account.settings"))
    if action == "password":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        errors = {}
        if not current:
            errors["current_password"] = "Enter your current password."
        if not new:
            errors["new_password"] = "Enter a new password."
        elif new != request.form.get("confirm_password", ""):
            errors["confirm_password"] = "The two new passwords differ."
        if errors:
            return _account_failure(account, forms, errors)
        try:
            api().update_me(new_password=new, current_password=current)
        except ApiErrorAnswer as exc:
            return _account_failure(account, forms, exc.field_errors, exc)
        flash("Your password is changed. Your other sessions are signed out.", "success")
        return redirect(url_for("account.settings"))
    if action == "email":
        # Every kind the form showed is sent: ticked on, unticked off (the others unchanged).
        ticked = set(request.form.getlist("email"))
        try:
            api().set_email_preferences({kind: kind in ticked
                                         for kind in request.form.getlist("shown")})
        except ApiErrorAnswer as exc:
            return _account_failure(account, forms, {}, exc)
        flash("Your email choices are saved.", "success")
        return redirect(url_for("account.settings"))
    return _account_failure(account, forms, {}, message="Choose what to change.")


def _account_failure(account: dict, forms: dict, errors: dict, exc: ApiErrorAnswer | None = None,
                     message: str = "Please correct the fields below."):
    """Re-render the account page with field errors (a refused token still signs out)."""
    if exc is not None and exc.status == 401:
        raise exc
    status = 422
    if exc is not None:
        message = exc.message
        status = exc.status if 400 <= exc.status < 500 else 503
    return _account_page(account, forms, errors, message, status)


@bp.get("/users/<user_id>")
def profile(user_id: str):
    """A public profile; an administrator also sees the status and may suspend or restore."""
    user = api().user_profile(user_id)
    viewer = current_user()
    can_moderate = bool(viewer and viewer.get("role") == "admin" and user.get("status")
                        and str(viewer.get("id")) != str(user["id"]))
    return render_template("profile.html", profile=user, can_moderate=can_moderate)


@bp.post("/users/<user_id>/status")
@login_required
def moderate(user_id: str):
    """Suspend (``action=suspend``) or restore (``action=unsuspend``) an account."""
    action = request.form.get("action")
    if action not in ("suspend", "unsuspend"):
        flash("Choose suspend or restore.", "error")
        return redirect(url_for("account.profile", user_id=user_id))
    user = api().set_user_suspended(user_id, suspended=action == "suspend")
    if user.get("status") == "suspended":
        flash(f"{user['display_name']} is suspended: they can no longer sign in or bid.",
              "success")
    else:
        flash(f"{user['display_name']} may sign in again.", "success")
    return redirect(url_for("account.profile", user_id=user_id))
