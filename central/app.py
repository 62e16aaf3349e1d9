"""The FastAPI application: every router in `central/api/routes/`, the operator console, the shop-owner
page, `/healthz` and `/metrics`."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

import central.api.routes as routes_pkg
from central.api.throttle import LoginThrottle
from central.evidence_store import EvidenceStore, make_store
from central.settings import CentralSettings

log = logging.getLogger("doorline.central.app")

STATIC_DIR = Path(__file__).with_name("web") / "static"


def discover_routers() -> list[tuple[str, APIRouter]]:
    """(module name, router) for every module in central/api/routes that defines `router`, by name.
    A router whose Doorline dependency is not installed (e.g. `central.orm.events` without the ingest part)
    is left out with an error in the log; any other import failure stops the app, naming the module."""
    found: list[tuple[str, APIRouter]] = []
    for info in sorted(pkgutil.iter_modules(routes_pkg.__path__), key=lambda m: m.name):
        name = f"{routes_pkg.__name__}.{info.name}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("central."):
                raise RuntimeError(f"cannot import router module {name}: {exc}") from exc
            log.error("router %s left out: %s is not installed", name, exc.name)
            continue
        except Exception as exc:
            raise RuntimeError(f"cannot import router module {name}: {exc}") from exc
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append((name, router))
    return found


def _metrics_text(session: Session) -> tuple[bytes, str] | None:
    """Prometheus text from central/metrics.py (helper C): `render(session) -> (body, content_type)`."""
    try:
        from central import metrics
    except ImportError:
        return None
    body, content_type = metrics.render(session)
    return (body.encode() if isinstance(body, str) else body), content_type


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
    if settings.secret_key == CentralSettings.model_fields["secret_key"].default:
        log.warning("DOORLINE_SECRET_KEY is the development default: anyone can forge tokens; set your own "
                    "(32+ random characters)")
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.store = store if store is not None else make_store(settings)
    app.state.login_throttle = LoginThrottle()

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

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics (from central.metrics)")
    def metrics(request: Request) -> Response:
        with request.app.state.session_factory() as session:
            out = _metrics_text(session)
        if out is None:
            return PlainTextResponse("# no metrics module installed\n", status_code=404)
        body, content_type = out
        return Response(body, media_type=content_type)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    return app


def _install_error_handlers(app: FastAPI) -> None:
    try:
        from central.domain.errors import DomainError
    except ImportError:
        return

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
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from central.web import console, shop_page
    from central.web.render import LoginRequired, login_redirect_url, page

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(console.router)
    app.include_router(shop_page.router)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(login_redirect_url(exc.next_url), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def html_errors(request: Request, exc: StarletteHTTPException) -> Response:
        """Pages get an HTML error page; the API keeps FastAPI's JSON."""
        path = request.url.path
        wants_html = path.startswith(("/console", "/shop/")) and "evidence" not in path
        if not wants_html:
            return await http_exception_handler(request, exc)
        titles = {401: "Please log in", 403: "Not allowed", 404: "Not found"}
        return page(request, "error.html", {"user": None, "active": "", "status_code": exc.status_code,
                                            "title": titles.get(exc.status_code, "Something went wrong"),
                                            "detail": exc.detail}, status_code=exc.status_code)
