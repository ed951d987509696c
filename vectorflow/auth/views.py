from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ..services.accounts import authenticate
from ..services.sessions import end_session, start_session
from . import bp
from .forms import LoginForm
from .throttle import login_throttle


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a local path, else the fleet page (no open redirects, and no
    control characters, which a Location header cannot carry)."""
    if target and target.isprintable():
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("fleet.index")


def sign_in(user, *, remember: bool) -> None:
    """Start a new sign-in with fresh session data and a new CSRF token (no session fixation)."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's cached token of the old session
    start_session(user, remember=remember)
    login_user(user, remember=remember)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        throttle = login_throttle()
        wait = throttle.retry_after(form.email.data, request.remote_addr)
        if wait is not None:
            minutes = -(-wait // 60)
            form.password.errors.append(
                "Too many failed sign-ins for this account or from this address. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
            page = render_template("auth/login.html", form=form)
            return page, 429, {"Retry-After": str(wait)}
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            sign_in(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")))
        throttle.record_failure(form.email.data, request.remote_addr)
        form.password.errors.append("Email or password is wrong.")
    return render_template("auth/login.html", form=form), (400 if form.errors else 200)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # Ends this sign-in on the server: copies of its cookies stop working too.
        end_session(current_user.session_token)
    logout_user()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))
