"""Demo scenarios for the stand-in, built relative to `now` so that every number agrees with itself.

Each issue's `count` is the sum of its `stats.30d`; its `stats.24h` holds the same events by hour;
its tag distributions add up to `count`; its release was deployed when the story says; the other
issues of the same incident were first seen within minutes of it. The stories:

- 4001 BACKEND-3F: a Django database timeout 3 minutes after backend@2.4.1 reached production; a
  commit of that release changed the top in-app frame's file; four other backend issues started
  in the same ten minutes, three of them database errors.
- 4004 WEB-9Q: minified JavaScript (runner-4.1.7.min.js) without source maps, only in Safari 17.
- 4002 API-JVM-12: a Java NullPointerException on one host of twelve; Sentry names a suspect commit.
- 4005 INGEST-4: a 40-day-old Go panic running twenty times its usual rate in the last hour.
- 4006 BACKEND-2K: re-opened by a person (Sentry says ongoing, not a regression), next to
- 4003 WEB-7C: which Sentry marked regressed in web@1.8.0 after it was resolved in web@1.7.3.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

ORG_URL = "https://sentry.io/organizations/demo-org/issues/"
PROJECTS = {
    "backend": {"id": "7", "slug": "backend", "name": "backend", "platform": "python"},
    "billing-api": {"id": "8", "slug": "billing-api", "name": "billing-api", "platform": "java"},
    "web": {"id": "9", "slug": "web", "name": "web", "platform": "javascript"},
    "ingest": {"id": "10", "slug": "ingest", "name": "ingest", "platform": "go"},
}


def _num(text: str) -> int:
    """A stable id from a name (Python's hash() changes between runs)."""
    return zlib.crc32(text.encode())


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def stats(now: datetime, per_minute: list[tuple[datetime, datetime, float]]) -> dict[str, list[list[int]]]:
    """`24h` hourly and `30d` daily buckets (the last one the current hour / day) from spans of
    (start, end, events per minute)."""
    hours = [hour_floor(now) - timedelta(hours=h) for h in range(23, -1, -1)]
    days = [now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=d) for d in range(29, -1, -1)]

    def bucket(starts: list[datetime], width: timedelta) -> list[list[int]]:
        out = []
        for start in starts:
            end = start + width
            total = 0.0
            for a, b, rate in per_minute:
                overlap = (min(b, end, now) - max(a, start)).total_seconds() / 60
                total += max(overlap, 0.0) * rate
            out.append([int(start.timestamp()), round(total)])
        return out

    return {"24h": bucket(hours, timedelta(hours=1)), "30d": bucket(days, timedelta(days=1))}


def issue(now: datetime, ident: str, short_id: str, project: str, title: str, culprit: str,
          first_seen: datetime, spans: list[tuple[datetime, datetime, float]], users: int,
          **extra: Any) -> dict[str, Any]:
    series = stats(now, spans)
    count = sum(n for _, n in series["30d"])
    kind, _, value = title.partition(": ")
    return {
        "id": ident, "shortId": short_id, "title": title, "culprit": culprit, "level": "error",
        "status": "unresolved", "substatus": "new", "platform": PROJECTS[project]["platform"],
        "count": str(count), "userCount": users, "userReportCount": 0,
        "firstSeen": iso(first_seen), "lastSeen": iso(now - timedelta(minutes=1)),
        "project": PROJECTS[project], "metadata": {"type": kind, "value": value},
        "statusDetails": {}, "assignedTo": None, "permalink": f"{ORG_URL}{ident}/", "numComments": 0,
        "issueCategory": "error", "priority": "high", "activity": [], "stats": series,
        "firstRelease": None, "lastRelease": None, "tags": [], **extra,
    }


def tag(key: str, values: list[tuple[str, int]]) -> dict[str, Any]:
    ordered = sorted(values, key=lambda v: -v[1])
    return {"key": key, "name": key.replace("_", " ").title(), "totalValues": sum(n for _, n in values),
            "uniqueValues": len(values),
            "topValues": [{"key": v, "name": v, "value": v, "count": n} for v, n in ordered[:9]]}


def spread_over(names: list[str], total: int) -> list[tuple[str, int]]:
    share, rest = divmod(total, len(names))
    return [(n, share + (1 if i < rest else 0)) for i, n in enumerate(names)]


def release(version: str, project: str, deployed: datetime, previous: str | None, commits: int = 3) -> dict[str, Any]:
    return {
        "id": _num(version) % 10**9, "version": version, "shortVersion": version.split("@")[-1],
        "status": "open", "ref": None, "url": None, "dateReleased": iso(deployed - timedelta(minutes=2)),
        "dateCreated": iso(deployed - timedelta(minutes=30)), "data": {}, "newGroups": 1, "owner": None,
        "commitCount": commits, "lastCommit": None, "deployCount": 1,
        "lastDeploy": {"id": str(_num(version + "d") % 10**8), "environment": "production",
                       "dateStarted": iso(deployed - timedelta(minutes=4)), "dateFinished": iso(deployed),
                       "name": f"{version} to production", "url": None},
        "authors": [], "projects": [{"id": int(PROJECTS[project]["id"]), "slug": project, "name": project,
                                     "newGroups": 1, "platform": PROJECTS[project]["platform"],
                                     "platforms": [PROJECTS[project]["platform"]], "hasHealthData": False}],
        "firstEvent": None, "lastEvent": None,
        "currentProjectMeta": {"prevReleaseVersion": previous, "nextReleaseVersion": None,
                               "firstReleaseVersion": previous, "lastReleaseVersion": version},
        "userAgent": "sentry-cli/2.38.0",
    }


def changed(filename: str, author: str, email: str, message: str, kind: str = "M") -> dict[str, Any]:
    return {"id": str(_num(filename + message) % 10**6), "orgId": 1,
            "author": {"name": author, "email": email}, "commitMessage": message, "filename": filename,
            "type": kind, "repoName": "example/monorepo"}


def frame(path: str, function: str, line: int, in_app: bool, code: str = "", **extra: Any) -> dict[str, Any]:
    return {"filename": path, "absPath": extra.pop("absPath", path), "function": function, "lineNo": line,
            "inApp": in_app, "context": [[line, code]] if code else [], **extra}


def event(ident: str, issue: dict[str, Any], at: datetime, release_version: str | None,
          values: list[dict[str, Any]], tags: dict[str, str], *, crumbs: list[dict[str, Any]] = (),  # type: ignore[assignment]
          request: dict[str, Any] | None = None, trace: str | None = None, **extra: Any) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [{"type": "exception", "data": {"values": values}}]
    if crumbs:
        entries.append({"type": "breadcrumbs", "data": {"values": list(crumbs)}})
    if request:
        entries.append({"type": "request", "data": request})
    return {
        "id": ident, "eventID": (ident * 8)[:32], "groupID": issue["id"], "title": issue["title"],
        "platform": issue["platform"], "dateCreated": iso(at),
        "release": {"version": release_version} if release_version else None,
        "tags": [{"key": k, "value": v} for k, v in tags.items()], "entries": entries,
        "contexts": {"trace": {"trace_id": trace, "span_id": trace[:16], "op": "http.server"}} if trace else {},
        "metadata": issue["metadata"], **extra,
    }


def crumb(at: datetime, category: str, message: str | None = None, **data: Any) -> dict[str, Any]:
    return {"timestamp": iso(at), "type": "http" if category == "http" else "default", "category": category,
            "level": "info", "message": message, "data": data or None}


def django_after_deploy(now: datetime, out: dict[str, Any]) -> None:
    first = now - timedelta(minutes=20)
    deployed = first - timedelta(minutes=3)
    db = issue(now, "4001", "BACKEND-3F", "backend", "OperationalError: canceling statement due to statement timeout",
               "app.orders.repository in fetch_open_orders", first, [(first, now, 92.0)], 230,
               firstRelease={"version": "backend@2.4.1"}, lastRelease={"version": "backend@2.4.1"})
    count = int(db["count"])
    hosts = [f"api-{n}" for n in range(1, 13)]
    db["tags"] = [{"key": k, "name": k, "totalValues": count} for k in ("environment", "level", "release", "server_name", "transaction")]
    out["tags"]["4001"] = {"server_name": tag("server_name", spread_over(hosts, count)),
                           "release": tag("release", [("backend@2.4.1", count)]),
                           "environment": tag("environment", [("production", count)]),
                           "transaction": tag("transaction", [("/api/orders/", count - 40), ("/api/orders/{id}/", 40)])}
    out["issues"].append(db)
    values = [
        {"type": "QueryCanceled", "value": "canceling statement due to statement timeout", "stacktrace": {"frames": []}},
        {"type": "OperationalError", "value": "canceling statement due to statement timeout",
         "mechanism": {"type": "django", "handled": False}, "stacktrace": {"frames": [
             frame("django/core/handlers/base.py", "_get_response", 181, False, "response = wrapped_callback(request)", module="django.core.handlers.base"),
             frame("app/orders/views.py", "list_orders", 57, True, "orders = repository.fetch_open_orders(customer_id)", module="app.orders.views"),
             frame("app/orders/repository.py", "fetch_open_orders", 112, True, "return list(Order.objects.filter(customer_id=customer_id, state='open'))", module="app.orders.repository"),
             frame("django/db/backends/utils.py", "_execute", 89, False, "return self.cursor.execute(sql, params)", module="django.db.backends.utils"),
         ]}},
    ]
    at = now - timedelta(minutes=1)
    out["events"]["4001"] = event("40014001", db, at, "backend@2.4.1", values,
        {"environment": "production", "level": "error", "release": "backend@2.4.1", "server_name": "api-7",
         "transaction": "/api/orders/"},
        crumbs=[crumb(at - timedelta(seconds=9), "http", None, method="GET", url="https://auth.internal/session/verify", status_code=200),
                crumb(at - timedelta(seconds=8), "query", "SELECT \"customers\".* FROM \"customers\" WHERE \"customers\".\"id\" = %s"),
                crumb(at - timedelta(seconds=8), "query", "SELECT \"orders\".* FROM \"orders\" WHERE (\"orders\".\"customer_id\" = %s AND \"orders\".\"state\" = %s)"),
                crumb(at - timedelta(seconds=3), "django.db", "statement timeout after 5000 ms")],
        request={"method": "GET", "url": "https://api.example.com/api/orders/", "query": [["customer", "8812"]]},
        trace="4c1f0e2a9b8d4f6e8a7b6c5d4e3f2a1b")
    out["releases"]["backend@2.4.1"] = release("backend@2.4.1", "backend", deployed, "backend@2.4.0")
    out["commitfiles"]["backend@2.4.1"] = [
        changed("app/orders/repository.py", "Alice Moreau", "alice@example.com", "perf: fetch open orders in one query\n\nDrops the per-customer prefetch."),
        changed("app/orders/migrations/0042_orders_state_idx.py", "Alice Moreau", "alice@example.com", "perf: fetch open orders in one query", "A"),
        changed("app/payments/client.py", "Bob Tran", "bob@example.com", "chore: bump payments client timeout"),
    ]
    for n, (short, title, minutes) in enumerate([
        ("BACKEND-3G", "OperationalError: canceling statement due to statement timeout", 2),
        ("BACKEND-3H", "QueryCanceled: canceling statement due to statement timeout", 4),
        ("BACKEND-3J", "OperationalError: could not obtain lock on relation \"orders\"", 6),
        ("BACKEND-3K", "ReadTimeout: HTTPSConnectionPool(host='payments.internal'): Read timed out.", 8),
    ]):
        started = first + timedelta(minutes=minutes)
        out["issues"].append(issue(now, str(4011 + n), short, "backend", title, "app.orders", started,
                                   [(started, now, 3.0)], 20, priority="medium"))


def minified_js(now: datetime, out: dict[str, Any]) -> None:
    first = now - timedelta(hours=2, minutes=5)
    js = issue(now, "4004", "WEB-9Q", "web", "TypeError: null is not an object (evaluating 'n.dataset')",
               "runner-4.1.7.min.js", first, [(first, now, 1.5)], 61,
               firstRelease={"version": "web@3.9.0"}, lastRelease={"version": "web@3.9.0"}, userReportCount=3)
    count = int(js["count"])
    js["tags"] = [{"key": k, "name": k, "totalValues": count} for k in ("browser", "os", "release", "url")]
    out["tags"]["4004"] = {"browser": tag("browser", [("Safari 17.1", count)]),
                           "os": tag("os", [("Mac OS X 14.1", count - 52), ("iOS 17.1", 52)]),
                           "release": tag("release", [("web@3.9.0", count)]),
                           "url": tag("url", [("https://shop.example.com/checkout", count)])}
    out["issues"].append(js)
    minified = "https://cdn.example.com/assets/runner-4.1.7.min.js"
    values = [{"type": "TypeError", "value": "null is not an object (evaluating 'n.dataset')",
               "mechanism": {"type": "onerror", "handled": False}, "stacktrace": {"frames": [
                   frame("/assets/vendor-2.0.1.min.js", "e", 1, False, "{snip} return e.apply(t,n) {snip}", absPath="https://cdn.example.com/assets/vendor-2.0.1.min.js", colNo=10234),
                   frame("/assets/runner-4.1.7.min.js", "Object.onClick", 1, True, "{snip} var r=n.dataset.id;t.push(r) {snip}", absPath=minified, colNo=48213),
               ]}}]
    at = now - timedelta(minutes=2)
    out["events"]["4004"] = event("40044004", js, at, "web@3.9.0", values,
        {"browser": "Safari 17.1", "os": "Mac OS X 14.1", "release": "web@3.9.0", "url": "https://shop.example.com/checkout"},
        crumbs=[crumb(at - timedelta(seconds=5), "navigation", None, **{"from": "/cart", "to": "/checkout"}),
                crumb(at - timedelta(seconds=1), "ui.click", "button#pay-now")],
        request={"method": None, "url": "https://shop.example.com/checkout"},
        errors=[{"type": "js_no_source", "message": "Source code was not found", "data": {"url": minified}}])
    out["releases"]["web@3.9.0"] = release("web@3.9.0", "web", first - timedelta(minutes=40), "web@3.8.2")
    out["commitfiles"]["web@3.9.0"] = [changed("src/checkout/PayButton.tsx", "Chen Li", "chen@example.com", "feat: one-click pay")]


def java_one_host(now: datetime, out: dict[str, Any]) -> None:
    first = now - timedelta(hours=3)
    npe = issue(now, "4002", "API-JVM-12", "billing-api",
                "NullPointerException: Cannot invoke \"Customer.getEmail()\" because \"customer\" is null",
                "com.example.billing.InvoiceService in send", first, [(first, now, 600 / 180)], 48,
                firstRelease={"version": "billing-api@5.2.0"}, lastRelease={"version": "billing-api@5.2.0"})
    # Served with `expand=owners` only, as Sentry does.
    out["owners"]["4002"] = [{"type": "suspectCommit", "owner": "user:42", "date_added": iso(first + timedelta(minutes=5))},
                             {"type": "ownershipRule", "owner": "team:2", "date_added": iso(first)}]
    count = int(npe["count"])
    others = [(f"web-{n}", 1) for n in range(1, 13) if n != 7]
    npe["tags"] = [{"key": k, "name": k, "totalValues": count} for k in ("environment", "release", "server_name", "transaction")]
    out["tags"]["4002"] = {"server_name": tag("server_name", [("web-7", count - len(others)), *others]),
                           "release": tag("release", [("billing-api@5.2.0", count)]),
                           "environment": tag("environment", [("production", count)]),
                           "transaction": tag("transaction", [("POST /invoices/{id}/send", count)])}
    out["issues"].append(npe)
    values = [{"type": "java.lang.NullPointerException", "value": "Cannot invoke \"Customer.getEmail()\" because \"customer\" is null",
               "mechanism": {"type": "UncaughtExceptionHandler", "handled": False}, "stacktrace": {"frames": [
                   {"module": "org.springframework.web.servlet.FrameworkServlet", "function": "service", "filename": "FrameworkServlet.java", "lineNo": 897, "inApp": False},
                   {"module": "com.example.billing.InvoiceController", "function": "send", "filename": "InvoiceController.java", "lineNo": 64, "inApp": True},
                   {"module": "com.example.billing.InvoiceService", "function": "send", "filename": "InvoiceService.java", "lineNo": 118, "inApp": True,
                    "context": [[118, "mailer.send(customer.getEmail(), invoice.render());"]]},
               ]}}]
    at = now - timedelta(minutes=3)
    out["events"]["4002"] = event("40024002", npe, at, "billing-api@5.2.0", values,
        {"environment": "production", "server_name": "web-7", "release": "billing-api@5.2.0", "transaction": "POST /invoices/{id}/send"},
        crumbs=[crumb(at - timedelta(seconds=2), "cache", "customer:88121 miss (replica web-7-cache)")],
        request={"method": "POST", "url": "https://billing.example.com/invoices/88121/send"},
        trace="9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b")
    out["releases"]["billing-api@5.2.0"] = release("billing-api@5.2.0", "billing-api", now - timedelta(days=2), "billing-api@5.1.3")


def go_spike(now: datetime, out: dict[str, Any]) -> None:
    first = now - timedelta(days=40)
    spike_from = hour_floor(now)
    panic = issue(now, "4005", "INGEST-4", "ingest", "panic: runtime error: index out of range [3] with length 3",
                  "ingest/decoder.(*Decoder).Next", first, [(first, spike_from, 0.5), (spike_from, now, 10.0)], 0,
                  substatus="escalating", firstRelease={"version": "ingest@1.9.0"}, lastRelease={"version": "ingest@1.14.2"})
    count = int(panic["count"])
    panic["count"] = str(count)
    hosts = [f"ingest-{n}" for n in range(1, 7)]
    panic["tags"] = [{"key": k, "name": k, "totalValues": count} for k in ("environment", "release", "server_name")]
    out["tags"]["4005"] = {"server_name": tag("server_name", spread_over(hosts, count)),
                           "release": tag("release", [("ingest@1.14.2", count - 900), ("ingest@1.14.1", 900)]),
                           "environment": tag("environment", [("production", count)])}
    out["issues"].append(panic)
    values = [{"type": "panic", "value": "runtime error: index out of range [3] with length 3",
               "mechanism": {"type": "panic", "handled": False}, "stacktrace": {"frames": [
                   frame("ingest/worker.go", "(*Worker).run", 88, True, "rec, err := w.dec.Next()", absPath="/build/ingest/worker.go", module="example.com/ingest"),
                   frame("ingest/decoder.go", "(*Decoder).Next", 143, True, "kind := fields[3]", absPath="/build/ingest/decoder.go", module="example.com/ingest"),
               ]}}]
    at = now - timedelta(seconds=30)
    out["events"]["4005"] = event("40054005", panic, at, "ingest@1.14.2", values,
        {"environment": "production", "server_name": "ingest-3", "release": "ingest@1.14.2"},
        crumbs=[crumb(at - timedelta(seconds=1), "kafka", "fetched 500 records from topic events.v2 partition 7")])
    out["releases"]["ingest@1.14.2"] = release("ingest@1.14.2", "ingest", now - timedelta(days=6), "ingest@1.14.1")
    out["releases"]["ingest@1.9.0"] = release("ingest@1.9.0", "ingest", first - timedelta(hours=2), None)
    started = spike_from + timedelta(minutes=2)
    out["issues"].append(issue(now, "4015", "INGEST-5", "ingest", "error: kafka: context deadline exceeded",
                               "ingest/consumer.(*Consumer).Poll", started, [(started, now, 1.0)], 0, priority="medium"))


def reopened_and_regressed(now: datetime, out: dict[str, Any]) -> None:
    first = now - timedelta(days=12)
    person = issue(now, "4006", "BACKEND-2K", "backend", "KeyError: 'currency'", "app.pricing.quote in total",
                   first, [(first, now, 2 / 60)], 14, substatus="ongoing", priority="medium",
                   firstRelease={"version": "backend@2.3.0"}, lastRelease={"version": "backend@2.4.1"},
                   activity=[{"id": "91", "type": "set_unresolved", "data": {}, "dateCreated": iso(now - timedelta(minutes=4)),
                              "user": {"id": "51", "name": "Dana Scott"}},
                             {"id": "90", "type": "set_resolved", "data": {}, "dateCreated": iso(now - timedelta(days=1)),
                              "user": {"id": "51", "name": "Dana Scott"}}])
    people = int(person["count"])
    person["tags"] = [{"key": k, "name": k, "totalValues": people} for k in ("environment", "release", "server_name")]
    out["tags"]["4006"] = {"server_name": tag("server_name", spread_over([f"api-{n}" for n in range(1, 13)], people)),
                           "release": tag("release", [("backend@2.4.0", people - 40), ("backend@2.4.1", 40)]),
                           "environment": tag("environment", [("production", people)])}
    out["issues"].append(person)
    values = [{"type": "KeyError", "value": "'currency'", "mechanism": {"type": "generic", "handled": False},
               "stacktrace": {"frames": [frame("app/pricing/quote.py", "total", 31, True, "rate = rates[line['currency']]", module="app.pricing.quote")]}}]
    out["events"]["4006"] = event("40064006", person, now - timedelta(minutes=6), "backend@2.4.1", values,
                                  {"environment": "production", "release": "backend@2.4.1"})
    regressed_at = now - timedelta(minutes=50)
    old = now - timedelta(days=30)
    reg = issue(now, "4003", "WEB-7C", "web", "TypeError: Cannot read properties of undefined (reading 'map')",
                "src/components/CartSummary.jsx", old, [(old, now - timedelta(days=8), 0.2), (regressed_at, now, 0.4)], 9,
                substatus="regressed", firstRelease={"version": "web@1.7.0"}, lastRelease={"version": "web@1.8.0"},
                activity=[{"id": "81", "type": "set_regression", "data": {"version": "web@1.8.0"}, "dateCreated": iso(regressed_at), "user": None},
                          {"id": "80", "type": "set_resolved_in_release", "data": {"version": "web@1.7.3"},
                           "dateCreated": iso(now - timedelta(days=8)), "user": {"id": "51", "name": "Dana Scott"}}])
    out["issues"].append(reg)
    values = [{"type": "TypeError", "value": "Cannot read properties of undefined (reading 'map')",
               "mechanism": {"type": "onerror", "handled": False}, "stacktrace": {"frames": [
                   frame("src/components/CartSummary.jsx", "CartSummary", 27, True, "{items.map(item => <Line key={item.id} item={item} />)}",
                         absPath="webpack:///src/components/CartSummary.jsx", colNo=18)]}}]
    out["events"]["4003"] = event("40034003", reg, now - timedelta(minutes=1), "web@1.8.0", values,
                                  {"environment": "production", "release": "web@1.8.0", "browser": "Chrome 131"})
    out["releases"]["web@1.8.0"] = release("web@1.8.0", "web", regressed_at - timedelta(minutes=3), "web@1.7.3")
    out["commitfiles"]["web@1.8.0"] = [changed("src/components/CartSummary.jsx", "Chen Li", "chen@example.com", "refactor: cart summary reads items from the store")]
    count = int(reg["count"])
    reg["tags"] = [{"key": k, "name": k, "totalValues": count} for k in ("browser", "release", "environment")]
    out["tags"]["4003"] = {"browser": tag("browser", [("Chrome 131", count // 2), ("Firefox 133", count // 3),
                                                      ("Safari 17.1", count - count // 2 - count // 3)]),
                           "release": tag("release", [("web@1.7.2", count - 12), ("web@1.8.0", 12)]),
                           "environment": tag("environment", [("production", count)])}


def build(now: datetime) -> dict[str, Any]:
    """Issues, events, releases, changed files and tag distributions of every story, at `now`."""
    out: dict[str, Any] = {"issues": [], "events": {}, "releases": {}, "commitfiles": {}, "tags": {}, "owners": {}}
    for story in (django_after_deploy, minified_js, java_one_host, go_spike, reopened_and_regressed):
        story(now, out)
    return out


# Who sends each story's delivery: Sentry, or a person re-opening an issue.
SENTRY = {"type": "application", "id": "sentry", "name": "Sentry"}
DANA = {"type": "user", "id": "51", "name": "Dana Scott"}
DELIVERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "4001": ("created", SENTRY), "4004": ("created", SENTRY), "4002": ("created", SENTRY),
    "4005": ("unresolved", SENTRY), "4006": ("unresolved", DANA), "4003": ("unresolved", SENTRY),
}


def merged(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The published seed with the stories added (a story's issue replaces a seeded one of its id)."""
    stories = build(now)
    ids = {i["id"] for i in stories["issues"]}
    return {
        **stories,
        "issues": [i for i in data["issues"] if i["id"] not in ids] + stories["issues"],
        "events": {**data["events"], **stories["events"]},
    }
