"""Blueprint `scheduled`: one collector schedule per registered DEX, the chained analysis, health, maintenance.

Function names (Lambda `<app>-<stage>-<name>`): `collect-<dex>` generated from the venue
REGISTRY (a new venue module gets its schedule with no change here), `analyze`,
`health-check`, `maintenance`. The Python handlers are module attributes `collect_<dex>`,
`analyze`, `health_check`, `maintenance` (the Lambda handler strings point at them).
Services are imported inside the handlers, and the schedules are registered from the venue ids
(chalicelib.venues.NAMES) without importing the venue modules: a route's cold start never pays for them.

On Lambda these functions' handler strings point into THIS module, so app.py is never imported
there and the app's middleware would not reach them; `_observed` attaches `observe` directly
(registering the blueprint on the app later replaces the list with the app's, the same middleware).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from chalice import Blueprint, Cron, Rate

from chalicelib import wiring
from chalicelib.observability import observe
from chalicelib.settings import Settings
from chalicelib.venues import NAMES

scheduled = Blueprint(__name__)
# Only this variable is read at import: `chalice package` imports the app with the stage's environment,
# where DATABASE_URL is still a CloudFormation dynamic reference. EventBridge's minimum rate is 1 minute.
_INTERVAL_S = Settings.from_env({"COLLECTION_INTERVAL_SECONDS": os.environ.get("COLLECTION_INTERVAL_SECONDS", "")})
COLLECT_EVERY_MINUTES = max(1, _INTERVAL_S.collection_interval_seconds // 60)


def _observed(handler: Any) -> Any:
    handler.middleware_handlers = [observe]
    return handler


@_observed
@scheduled.lambda_function(name="analyze")
def analyze(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.observability import report
    from chalicelib.services import analyze as service

    summary = service.run(event or {}, settings=wiring.settings(), storage=wiring.storage(), kv=wiring.kv(),
                          pusher=wiring.pusher(), emit=wiring.event_sink())
    return report("analysis", summary, **service.metrics(summary))


def collect_and_chain(dex: str, context: Any = None) -> dict[str, Any]:
    """The whole collector: collect + store + Redis, then start the analysis (Lambda invoke or in-process)."""
    from chalicelib.observability import correlation_id, report
    from chalicelib.services import jobs

    settings = wiring.settings()
    if settings.enabled_dexes and dex not in settings.enabled_dexes:
        return {"dex_name": dex, "status": "disabled"}
    summary = jobs.collect(dex, settings=settings, storage=wiring.storage(), kv=wiring.kv(),
                           collect_kwargs=wiring.get("collect_kwargs", dict))  # tests: an httpx client
    report("collection", summary, MarketsCollected=summary["markets"],
           VenueErrors=0 if summary["status"] == "success" else 1)
    if summary["markets"]:
        payload = {"source": "collector", "dex_name": dex, "collected_at": summary["collected_at"],
                   "markets": summary["markets"], "correlation_id": correlation_id() or str(uuid.uuid4())}
        summary["analysis"] = jobs.chain(payload, settings=settings, local=analyze, context=context)
    return summary


def _collector(dex: str) -> Any:
    def handler(event: Any) -> dict[str, Any]:
        return collect_and_chain(dex, getattr(event, "context", None))

    handler.__name__ = handler.__qualname__ = f"collect_{dex}"
    handler.__doc__ = f"EventBridge schedule: collect {dex}, store, chain the analysis."
    return _observed(scheduled.schedule(Rate(COLLECT_EVERY_MINUTES, unit=Rate.MINUTES), name=f"collect-{dex}")(handler))


for _dex in NAMES:   # the ids only: the venue modules load in the collector that runs (jobs.collect)
    globals()[f"collect_{_dex}"] = _collector(_dex)


@_observed
@scheduled.schedule(Rate(5, unit=Rate.MINUTES), name="health-check")
def health_check(event: Any) -> dict[str, Any]:
    from chalicelib.services import jobs

    return jobs.health_check(settings=wiring.settings(), storage=wiring.storage(), kv=wiring.kv())


@_observed
@scheduled.schedule(Cron(7, "*", "*", "*", "?", "*"), name="settlements")  # hourly, 7 min after settlement
def settlements(event: Any) -> dict[str, Any]:
    from chalicelib.services import settle

    summary = settle.run(settings=wiring.settings(), storage=wiring.storage(), kv=wiring.kv(),
                         pusher=wiring.pusher(), emit=wiring.event_sink())
    return {"venues": summary["venues"], "verdicts": {d: v["status"] for d, v in summary["verdicts"].items()},
            "events": len(summary["events"])}


@_observed
@scheduled.schedule(Cron(17, 3, "*", "*", "?", "*"), name="maintenance")  # daily 03:17 UTC, off the hour
def maintenance(event: Any) -> dict[str, Any]:
    from chalicelib.services import jobs

    return jobs.maintenance(settings=wiring.settings(), storage=wiring.storage())
