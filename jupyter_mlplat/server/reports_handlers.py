"""REST surface of the evaluation reports: ``/mlplat/api/reports...`` (see openapi.yaml)."""

from __future__ import annotations

from tornado import web

from jupyter_mlplat.reports.service import ReportsService
from jupyter_mlplat.server.handlers import MLPlatHandler

#: A report page is static: inline styles and data: images, nothing else (no script, no fetch).
REPORT_PAGE_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


class ReportsHandler(MLPlatHandler):
    """Base: the reports service; kernels (``%mlp reports``) may call these routes too."""

    kernel_api = True

    @property
    def reports(self) -> ReportsService:
        return self.settings["mlplat_reports"]


class ReportSearchHandler(ReportsHandler):
    @web.authenticated
    async def get(self) -> None:
        query = self.get_argument("q", "")
        limit = self.int_argument("limit", 50)
        self.finish(await self.call(self.reports.search, query, limit))


class ReportHandler(ReportsHandler):
    @web.authenticated
    async def get(self, report_id: str) -> None:
        self.finish(await self.call(self.reports.report, report_id))


class ReportPageHandler(ReportsHandler):
    @property
    def content_security_policy(self) -> str:
        return REPORT_PAGE_POLICY

    @web.authenticated
    async def get(self, report_id: str) -> None:
        page = await self.call(self.reports.html, report_id)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(page, set_content_type="text/html; charset=utf-8")


ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    (r"mlplat/api/reports", ReportSearchHandler),
    (r"mlplat/api/reports/([^/]+)", ReportHandler),
    (r"mlplat/api/reports/([^/]+)/html", ReportPageHandler),
]
