"""HTTP routes of the operator console: HTML pages for people, one JSON endpoint for its script.

Pages are rendered here (autoescaped Jinja2), errors included: a refused login is the login
page again with its status, a non-admin gets a 403 page. `GET /admin/data` answers in the
contract's envelope (`ok`, errors from `marketplace.errors`). Every answer carries a
Content-Security-Policy that allows only the console's own files: no inline script or style.
"""
from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter import RateLimitExceeded

from marketplace import rate_limits
from marketplace.admin import access, assets, figures
from marketplace.auth.schemas import LoginIn, parse
from marketplace.auth.signin import checked_login, start_session
from marketplace.errors import (
    APIError,
    Forbidden,
    InvalidCredentials,
    Unauthorized,
    ValidationFailed,
    error_response,
    rate_limited_response,
)
from marketplace.http import ok
from marketplace.rate_limits import AUTH

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
JSON_ENDPOINTS = frozenset({"admin.data"})
FORM_REFUSED = ("This form has expired or was sent from another site. "
                "Please sign in from this page.")


@bp.before_request
def answers_are_private() -> None:
    if request.endpoint != "admin.asset":  # the versioned files are the same for everyone
        request.private = True


@bp.after_request
def console_headers(response: Response) -> Response:
    """The console's own policy, on top of the headers every response gets (`http.py`)."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.app_template_global()
def asset_url(name: str) -> str:
    return assets.asset_url(name)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    """A page with a form token (set in its cookie too): every page has a form."""
    token = access.form_token()
    response = make_response(
        render_template(template, csrf_field=access.CSRF_FIELD, csrf_token=token, **context),
        status)
    access.set_form_token(response, token)
    return response


def _login_page(status: int = 200, **context: Any) -> Response:
    return _page("admin/login.html", status, **context)


@bp.get("/")
def console() -> Any:
    user = access.console_user()
    if user is None:
        return redirect(url_for("admin.login"))
    if user["role"] != "admin":
        return _page("admin/forbidden.html", 403, user=user)
    return _page("admin/console.html", user=user, refresh_seconds=figures.REFRESH_SECONDS)


@bp.get("/data")
def data() -> Response:
    """Every figure of the console, for its script (admins only, never cached)."""
    user = access.console_user()
    if user is None:
        raise Unauthorized()
    if user["role"] != "admin":
        raise Forbidden()
    return ok(**figures.snapshot())


@bp.get("/login")
def login() -> Any:
    user = access.console_user()
    if user is not None and user["role"] == "admin":
        return redirect(url_for("admin.console"))
    return _login_page(signed_out="signed_out" in request.args)


@bp.post("/login")
def login_submit() -> Any:
    """The API login's checks and limits, for a form of the console's own pages only."""
    if not access.same_site_post():
        return _login_page(403, error=FORM_REFUSED)
    rate_limits.hit(AUTH)
    email = request.form.get("email", "")[:254]
    try:
        data = parse(LoginIn, {"email": email, "password": request.form.get("password", "")})
    except ValidationFailed:
        return _login_page(422, error="Enter your e-mail address and password.", email=email)
    try:
        user = checked_login(data.email, data.password)
    except InvalidCredentials as exc:
        return _login_page(401, error=exc.message, email=email)
    if user["role"] != "admin":
        return _login_page(403, error="This account is not an administrator.", email=email)
    start_session(user)
    response = redirect(url_for("admin.console"), 303)
    access.give_pass(response, user)
    access.set_form_token(response, access.new_form_token())  # a new one for the new login
    return response


@bp.post("/logout")
def logout() -> Any:
    if not access.same_site_post():
        return _page("admin/error.html", 403, message=FORM_REFUSED)
    response = redirect(url_for("admin.login", signed_out=1), 303)
    access.end_pass(response)  # first: a pass that cannot be revoked keeps the session too
    if session:
        session.clear()  # the session interface deletes it and its cookie
    return response


@bp.get("/assets/<digest>/<name>")
def asset(digest: str, name: str) -> Response:
    return assets.serve(digest, name)


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(exc: RateLimitExceeded) -> Response:
    """The login page with the API's 429 headers (`Retry-After`...); counted as the API's."""
    refused = rate_limited_response(exc)
    page = _login_page(429, error="Too many attempts. Please wait "
                       f"{refused.headers['Retry-After']} seconds and try again.")
    for name, value in refused.headers.items():
        if name == "Retry-After" or name.startswith("X-RateLimit-"):
            page.headers[name] = value
    return page


@bp.errorhandler(APIError)
def failed(exc: APIError) -> Response:
    """An error page; the contract's JSON for the data endpoint."""
    if request.endpoint in JSON_ENDPOINTS:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
    else:
        response = _page("admin/error.html", exc.status, message=exc.message)
    response.headers.update(exc.headers)
    return response
