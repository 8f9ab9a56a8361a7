"""The overview: risk now, findings over time by severity, top risky assets, SLA breaches and
the pipelines' gate pass rate."""

from __future__ import annotations

from fastapi.responses import Response

from stackwarden.server.web.charts import severity_bars, stacked_area
from stackwarden.server.web.core import PageDep, nav, router
from stackwarden.server.web.queries import overview as overview_data

nav("Overview", "/", order=10)


@router.get("/")
def overview(page: PageDep) -> Response:
    """The overview page."""
    with page.ctx.db.session() as session:
        data = overview_data(session, page.who)
    return page.render(
        "overview.html", title="Overview", data=data,
        risk_chart=severity_bars("Open findings by severity", data.open_by_severity),
        trend_chart=stacked_area("Open findings over the last 30 days, by severity",
                                 data.trend_labels, data.trend),
        total_open=sum(data.open_by_severity.values()))
