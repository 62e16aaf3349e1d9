"""The FastAPI application: every router in `central/api/routes/`, the operator console, the shop-owner
page, `/healthz` and `/metrics`."""

from __future__ import annotations

import hmac
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

import central.api.routes as routes_pkg
from central import metrics as central_metrics
from central.api.security import SecurityHeaders
from central.api.throttle import LoginThrottle
from central.api.validation import RefuseHostileInput, validation_error_reply
from central.auth import set_hash_concurrency, set_hash_cost
from central.domain.errors import DomainError
from central.evidence_store import EvidenceStore, make_store
from central.settings import CentralSettings, check_secret_key, secret_key_weakness

log = logging.getLogger("doorline.central.app")

STATIC_DIR = Path(__file__).with_name("web") / "static"


def discover_routers() -> list[tuple[str, APIRouter]]:
    """(module name, router) for every module in central/api/routes that defines `router`, by name; an
    import error stops the app."""
    found: list[tuple[str, APIRouter]] = []
    for info in sorted(pkgutil.iter_modules(routes_pkg.__path__), key=lambda m: m.name):
        name = f"{routes_pkg.__name__}.{info.name}"
        module = importlib.import_module(name)
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append((name, router))
    return found


def create_app(settings: CentralSettings, session_factory: sessionmaker[Session] | None = None, *,
               store: EvidenceStore | None = None) -> FastAPI:
    """The central HTTP service. Without `session_factory` the lifespan opens an engine on
    `settings.database_url` (the schema must exist: `doorline-central migrate`). Without `store` it uses
    `central.evidence_store.make_store(settings)`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if app.state.session_factory is None:
            from central.db import make_engine, make_session_factory

            engine = make_engine(settings.database_url)
            app.state.session_factory = make_session_factory(engine)
        try:
            yield
        finally:
            if engine is not None:
                app.state.session_factory = None
                engine.dispose()

    app = FastAPI(title="Doorline central", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Shops, zones, events, cases, grades, inspections, hot spots, statistics and "
                              "evidence for the Doorline street-front supervision system.")
    check_secret_key(settings)  # raises InsecureSecretKey unless the key is strong or the dev flag is set
    if settings.allow_insecure_key and secret_key_weakness(settings.secret_key):
        log.warning("DOORLINE_ALLOW_INSECURE_KEY is set and the secret key %s: anyone can forge tokens "
                    "(development only)", secret_key_weakness(settings.secret_key))
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.store = store if store is not None else make_store(settings)
    app.state.login_throttle = LoginThrottle()
    set_hash_concurrency(settings.password_hash_concurrency)
    set_hash_cost(settings.password_hash_memory_kib, settings.password_hash_time_cost)
    app.add_middleware(RefuseHostileInput)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so even refusals carry the headers
    app.add_exception_handler(RequestValidationError, validation_error_reply)

    for _name, router in discover_routers():
        app.include_router(router)
    _install_error_handlers(app)
    _install_docs(app)
    _install_web(app)

    @app.get("/healthz", tags=["service"], summary="liveness and database check")
    def healthz(request: Request) -> JSONResponse:
        factory = request.app.state.session_factory
        try:
            with factory() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # the probe reports the failure instead of raising
            return JSONResponse({"status": "error", "database": str(exc).splitlines()[0]}, status_code=503)
        from central import metrics

        ingest = metrics.problems()  # a dead ingest worker thread: the service takes no messages
        if ingest:
            return JSONResponse({"status": "error", "database": "ok", "ingest": ingest}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics (from central.metrics)",
             responses={401: {"description": "no scrape token (settings.metrics_token) or operator token"}})
    def metrics(request: Request) -> Response:
        _check_scraper(request)
        with request.app.state.session_factory() as session:
            body, content_type = central_metrics.render(session)
        return Response(body, media_type=content_type)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    return app


def _check_scraper(request: Request) -> None:
    """/metrics names sites, cameras and edges: only for the configured scrape token or an operator."""
    from central.api.deps import request_token, unauthorized
    from central.auth import AuthError, user_for_token

    settings: CentralSettings = request.app.state.settings
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
    if bearer and settings.metrics_token and hmac.compare_digest(bearer.encode(), settings.metrics_token.encode()):
        return
    token = request_token(request, bearer)
    if not token:
        raise unauthorized("metrics need the scrape token (DOORLINE_METRICS_TOKEN) or an operator token")
    with request.app.state.session_factory() as session:
        try:
            user_for_token(session, settings, token)
        except AuthError as exc:
            raise unauthorized(exc.reason) from None


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)


def _install_docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc from local files (the fastapi-offline wheel), not from a CDN."""
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.responses import HTMLResponse

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static-docs", StaticFiles(directory=static), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} — API",
                                   oauth2_redirect_url="/docs/oauth2-redirect",
                                   swagger_js_url="/static-docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static-docs/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} — API",
                              redoc_js_url="/static-docs/redoc.standalone.js",
                              redoc_favicon_url="/static/favicon.svg", with_google_fonts=False)


def _install_web(app: FastAPI) -> None:
    from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from central.i18n import N_
    from central.web import console, edges_page, language, map_page, officer, shop_page, stats, zone_editor
    from central.web.render import LoginRequired, login_redirect_url, page, request_translator

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(console.router)
    app.include_router(stats.router)
    app.include_router(map_page.router)
    app.include_router(edges_page.router)
    app.include_router(shop_page.router)
    app.include_router(language.router)
    app.include_router(officer.router)
    from central.web import notices_console, owner_page, report_page

    app.include_router(owner_page.owner_router)
    app.include_router(owner_page.board_router)
    app.include_router(report_page.router)
    app.include_router(notices_console.router)
    app.include_router(notices_console.reports_router)
    app.include_router(zone_editor.router)

    def wants_html(request: Request) -> bool:
        path = request.url.path
        return path.startswith(("/console", "/shop/", "/lang/", "/officer", "/owner/", "/board/", "/report")) \
            and "evidence" not in path \
            and not path.endswith((".png", ".pdf", "/status"))

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(login_redirect_url(exc.next_url), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def html_errors(request: Request, exc: StarletteHTTPException) -> Response:
        """Pages get an HTML error page; the API keeps FastAPI's JSON."""
        if not wants_html(request):
            return await http_exception_handler(request, exc)
        titles = {401: N_("Please log in"), 403: N_("Not allowed"), 404: N_("Not found"),
                  405: N_("This address cannot be used that way")}
        title = titles.get(exc.status_code) or N_("Something went wrong")
        return page(request, "error.html", {"user": None, "active": "", "status_code": exc.status_code,
                                            "title": request_translator(request).gettext(title),
                                            "detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def html_bad_request(request: Request, exc: RequestValidationError) -> Response:
        """A console page asked with a bad query value gets a page that says which, not raw JSON."""
        if not wants_html(request):
            return await request_validation_exception_handler(request, exc)
        t = request_translator(request)
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "?"
            problems.append(t.gettext("%(field)s: %(value)s is not allowed (%(why)s)", field=where,
                                      value=repr(err.get("input")), why=err.get("msg", "")))
        return page(request, "error.html", {
            "user": None, "active": "", "status_code": 400, "title": t.gettext("That address has a bad value"),
            "detail": t.gettext("Check the filters and try again."), "problems": problems,
            "back": request.url.path if request.method == "GET" else _came_from(request)}, status_code=400)

    def _came_from(request: Request) -> str:
        """The page a bad form was posted from (same site only), for the error page's way back."""
        from urllib.parse import urlsplit

        from central.web.render import safe_path

        ref = urlsplit(request.headers.get("referer", ""))
        same = ref.netloc == request.url.netloc
        return safe_path(ref.path + (f"?{ref.query}" if ref.query else "")) if same else "/console"
