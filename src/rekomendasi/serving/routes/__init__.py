"""The API's routes, one module per resource. Each translates HTTP to calls on the engine and the
stores: scope checks and audit rows come from :mod:`rekomendasi.serving.deps`, answers from
:mod:`rekomendasi.serving.answers`."""

from fastapi import APIRouter

from rekomendasi.serving.routes import (
    catalog,
    embed,
    employees,
    feedback,
    plans,
    recommendations,
    system,
    xapi,
)

api_router = APIRouter()
for _module in (recommendations, employees, feedback, plans, catalog, embed, xapi, system):
    api_router.include_router(_module.router)
system_router = system.system_router
widget_router = embed.widget_router  # the widget's script and iframe page, outside /v1

__all__ = ["api_router", "system_router", "widget_router"]
