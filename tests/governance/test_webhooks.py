"""Webhook notifications: who gets them, how they are signed and sent, retried, given up,
claimed by one worker, and managed through the API, the portal and the admin."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import DataProduct, Domain
from governance import tasks
from governance.models import WebhookDelivery, WebhookSubscription
from governance.webhooks import (
    USER_AGENT,
    webhook_deliver_due,
    webhook_notify,
    webhook_ping,
    webhook_signature,
    webhook_verify,
)

pytestmark = pytest.mark.django_db

BREACH = {"slo": {"id": 7, "name": "orders fresh within 6 h"}, "state": "breached"}


# --- a local receiver ---------------------------------------------------------------------


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records each request and answers the next of
    ``statuses`` (the last one repeats), after ``delay`` seconds or once ``gate`` is set."""

    def __init__(self, statuses: list[int], delay: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.delay = delay
        self.gate: threading.Event | None = None
        self.arrived = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/meshport"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.record(self.path, dict(self.headers), body)
                code = receiver.answer()
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"oops, try later" if code >= 500 else b"thanks")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        with self.lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
        self.arrived.set()
        if self.gate is not None:
            self.gate.wait(10)
        time.sleep(self.delay)

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def delivery_ids(self) -> list[int]:
        return [int(r["headers"]["X-Meshport-Delivery"]) for r in self.requests]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is what some tests want


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def flaky() -> Iterator[Receiver]:
    """Answers 500 the first time, then 200."""
    with running(Receiver([500, 200])) as receiver:
        yield receiver


@pytest.fixture
def healthy() -> Iterator[Receiver]:
    with running(Receiver([200])) as receiver:
        yield receiver


@pytest.fixture
def dead_url() -> str:
    """A local port nobody listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def subscribe(url: str = "http://127.0.0.1:9/hook", **fields: Any) -> WebhookSubscription:
    return WebhookSubscription.objects.create(name=fields.pop("name", "alerts"), url=url, **fields)


def later(seconds: float) -> Any:
    return timezone.now() + timedelta(seconds=seconds)


# --- signing and sending ------------------------------------------------------------------


def test_it_signs_the_exact_body_it_sends_with_the_subscription_secret(healthy: Receiver) -> None:
    subscription = subscribe(healthy.url)
    (delivery,) = webhook_notify(event="slo.breached", data=BREACH)

    report = webhook_deliver_due()

    assert report.delivered == 1
    (request,) = healthy.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/meshport"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == USER_AGENT
    assert headers["X-Meshport-Event"] == "slo.breached"
    assert headers["X-Meshport-Delivery"] == str(delivery.pk)
    assert abs(int(headers["X-Meshport-Timestamp"]) - time.time()) < 60
    assert webhook_verify(
        subscription.secret, headers["X-Meshport-Timestamp"], body, headers["X-Meshport-Signature"]
    )
    assert headers["X-Meshport-Signature"] == webhook_signature(
        subscription.secret, headers["X-Meshport-Timestamp"], body
    )
    document = json.loads(body)
    assert document["id"] == delivery.pk and document["event"] == "slo.breached"
    assert document["data"] == BREACH
    assert document["created_at"] == delivery.created_at.isoformat()


def test_verify_rejects_a_changed_body_a_wrong_secret_and_an_old_timestamp() -> None:
    body, stamp = b'{"id":1}', str(int(time.time()))
    signature = webhook_signature("s3cret", stamp, body)

    assert webhook_verify("s3cret", stamp, body, signature)
    assert not webhook_verify("s3cret", stamp, b'{"id":2}', signature)
    assert not webhook_verify("other", stamp, body, signature)
    assert not webhook_verify("s3cret", stamp, body, signature, now=time.time() + 3600)
    assert not webhook_verify("s3cret", "yesterday", body, signature)


def test_it_retries_after_a_500(flaky: Receiver) -> None:
    subscribe(flaky.url)
    (delivery,) = webhook_notify(event="slo.breached", data=BREACH)
    start_at = timezone.now()

    first = webhook_deliver_due(now=start_at)
    delivery.refresh_from_db()
    assert (first.retrying, delivery.status, delivery.attempts) == (1, "pending", 1)
    assert delivery.last_status_code == 500
    assert delivery.next_attempt_at == start_at + timedelta(seconds=30)

    assert webhook_deliver_due(now=start_at + timedelta(seconds=10)).attempted == 0
    second = webhook_deliver_due(now=start_at + timedelta(seconds=31))

    delivery.refresh_from_db()
    assert (second.delivered, delivery.status, delivery.attempts) == (1, "delivered", 2)
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    assert delivery.delivered_at == start_at + timedelta(seconds=31)
    assert [e["status_code"] for e in delivery.log] == [500, 200]
    assert [e["attempt"] for e in delivery.log] == [1, 2]
    assert delivery.log[0]["response"] == "oops, try later"
    assert "500" in delivery.log[0]["error"]
    assert all(e["duration_ms"] >= 0 and e["at"] for e in delivery.log)
    assert flaky.requests[0]["body"] == flaky.requests[1]["body"]
    assert flaky.delivery_ids() == [delivery.pk, delivery.pk]


def test_a_dead_endpoint_ends_failed_after_max_attempts_without_raising(
    dead_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(dead_url)
    (delivery,) = webhook_notify(event="slo.breached", data=BREACH)

    for attempt in range(6):
        webhook_deliver_due(now=later(attempt * 7 * 3600))  # past the longest backoff
        delivery.refresh_from_db()

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 6, None)
    assert "ConnectionRefusedError" in delivery.last_error
    assert len(delivery.log) == 6
    assert all("Connection refused" in e["error"] for e in delivery.log)
    assert webhook_deliver_due(now=later(30 * 24 * 3600)).attempted == 0
    assert "giving up" in caplog.text and dead_url not in caplog.text


def test_it_waits_longer_after_each_failure(dead_url: str, settings: Any) -> None:
    settings.MESHPORT_WEBHOOKS = {"MAX_ATTEMPTS": 4, "BACKOFF_SECONDS": [10, 100]}
    subscribe(dead_url)
    (delivery,) = webhook_notify(event="slo.breached", data=BREACH)
    waits = []
    now = timezone.now()
    for _ in range(3):
        webhook_deliver_due(now=now)
        delivery.refresh_from_db()
        waits.append((delivery.next_attempt_at - now).total_seconds())
        now = delivery.next_attempt_at

    assert waits == [10, 100, 100]  # the last step repeats


def test_a_timeout_is_a_failed_attempt(settings: Any) -> None:
    settings.MESHPORT_WEBHOOKS = {"TIMEOUT_SECONDS": 0.2}
    with running(Receiver([200], delay=1.0)) as receiver:
        subscribe(receiver.url)
        (delivery,) = webhook_notify(event="slo.breached", data=BREACH)

        report = webhook_deliver_due()

    delivery.refresh_from_db()
    assert report.retrying == 1
    assert "timed out" in delivery.last_error and delivery.last_status_code is None


def test_a_redirect_is_not_followed() -> None:
    with running(Receiver([302])) as receiver:
        subscribe(receiver.url)
        (delivery,) = webhook_notify(event="slo.breached", data=BREACH)
        webhook_deliver_due()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert len(receiver.requests) == 1


def test_one_bad_endpoint_does_not_stop_the_others(healthy: Receiver, dead_url: str) -> None:
    subscribe(dead_url, name="broken")
    subscribe(healthy.url, name="fine")
    webhook_notify(event="slo.breached", data=BREACH)

    report = webhook_deliver_due()

    assert (report.delivered, report.retrying) == (1, 1)


# --- who gets what ------------------------------------------------------------------------


@pytest.fixture
def orders() -> DataProduct:
    """A product in ``sales--orders``, a sub-domain of ``sales``."""
    sales = Domain.objects.create(slug="sales", name="Sales")
    sub = Domain.objects.create(slug="sales--orders", name="Orders", parent=sales)
    return DataProduct.objects.create(
        external_id="orders", name="Orders", format="odps", domain=sub
    )


def notified(**scope: Any) -> set[str]:
    deliveries = webhook_notify(event="slo.breached", data=BREACH, **scope)
    return {d.subscription.name for d in deliveries}


def test_a_product_subscription_gets_only_its_product(orders: DataProduct) -> None:
    other = DataProduct.objects.create(external_id="other", name="Other", format="odps")
    subscribe(name="orders-team", product=orders)

    assert notified(product=orders) == {"orders-team"}
    assert notified(product=other) == set()
    assert notified(domain=orders.domain) == set()


def test_a_domain_subscription_gets_its_sub_domains(orders: DataProduct) -> None:
    assert orders.domain is not None and orders.domain.parent is not None
    subscribe(name="sales", domain=orders.domain.parent)
    subscribe(name="orders-domain", domain=orders.domain)
    subscribe(name="marketing", domain=Domain.objects.create(slug="marketing", name="Marketing"))

    assert notified(product=orders) == {"sales", "orders-domain"}
    assert notified(domain=orders.domain) == {"sales", "orders-domain"}
    assert notified(domain=orders.domain.parent) == {"sales"}


def test_a_deep_domain_tree_reaches_the_top(orders: DataProduct) -> None:
    parent = orders.domain
    for level in range(6):
        parent = Domain.objects.create(slug=f"level-{level}", name=f"L{level}", parent=parent)
    leaf = DataProduct.objects.create(external_id="leaf", name="Leaf", format="odps", domain=parent)
    subscribe(name="sales", domain=Domain.objects.get(slug="sales"))

    assert notified(product=leaf) == {"sales"}


def test_a_global_subscription_gets_everything(orders: DataProduct) -> None:
    subscribe(name="everything")

    assert notified(product=orders) == {"everything"}
    assert notified() == {"everything"}


def test_an_inactive_subscription_gets_nothing(orders: DataProduct) -> None:
    subscribe(name="paused", active=False)
    subscribe(name="paused-product", product=orders, active=False)

    assert notified(product=orders) == set()


def test_an_event_filter_keeps_other_events_out(orders: DataProduct) -> None:
    subscribe(name="recoveries", events=["slo.recovered"])
    subscribe(name="all")

    assert notified(product=orders) == {"all"}
    recovered = webhook_notify(event="slo.recovered", data={}, product=orders)
    assert {d.subscription.name for d in recovered} == {"recoveries", "all"}


def test_notify_rejects_an_unknown_event() -> None:
    with pytest.raises(ValueError, match=r"slo\.breahced"):
        webhook_notify(event="slo.breahced", data={})


def test_notify_is_a_few_queries_and_no_request(
    orders: DataProduct, django_assert_max_num_queries: Any, healthy: Receiver
) -> None:
    for i in range(5):
        subscribe(healthy.url, name=f"s{i}")
    with django_assert_max_num_queries(3):  # ancestors, subscriptions, one insert
        deliveries = webhook_notify(event="slo.breached", data=BREACH, product=orders)

    assert len(deliveries) == 5 and healthy.requests == []


def test_notify_asks_the_worker_once_committed(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(tasks, "webhook_deliver", lambda: calls.append("queued"))
    subscribe()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        webhook_notify(event="slo.breached", data=BREACH)
        assert calls == []

    for callback in callbacks:
        callback()
    assert calls == ["queued"]


def test_a_failed_enqueue_is_logged_and_left_to_the_sweep(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks, "webhook_deliver", broken)
    subscribe()
    with django_capture_on_commit_callbacks(execute=True):
        webhook_notify(event="slo.breached", data=BREACH)

    assert "periodic sweep will send it" in caplog.text
    assert WebhookDelivery.objects.filter(status="pending").count() == 1


def test_nothing_is_queued_when_the_transaction_rolls_back() -> None:
    subscribe()
    with pytest.raises(RuntimeError), transaction.atomic():
        webhook_notify(event="slo.breached", data=BREACH)
        raise RuntimeError("the SLO change failed")

    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_what_a_committed_change_queued(healthy: Receiver) -> None:
    from huey.contrib.djhuey import HUEY

    subscribe(healthy.url)
    HUEY.immediate = True  # tasks run as they are queued, in memory
    try:
        with transaction.atomic():
            (delivery,) = webhook_notify(event="slo.breached", data=BREACH)
            assert healthy.requests == []
    finally:
        HUEY.immediate = False

    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(healthy.requests) == 1


def test_the_sweep_task_sends_due_deliveries(healthy: Receiver) -> None:
    subscribe(healthy.url)
    webhook_notify(event="slo.breached", data=BREACH)

    tasks.webhook_delivery_sweep.call_local()

    assert WebhookDelivery.objects.get().status == "delivered"


def test_a_paused_subscription_keeps_its_notifications_but_still_gets_pings(
    healthy: Receiver,
) -> None:
    subscription = subscribe(healthy.url)
    webhook_notify(event="slo.breached", data=BREACH)
    subscription.active = False
    subscription.save()
    webhook_ping(subscription=subscription)

    webhook_deliver_due()

    assert [r["headers"]["X-Meshport-Event"] for r in healthy.requests] == ["ping"]
    assert WebhookDelivery.objects.filter(event="slo.breached", status="pending").exists()


# --- one sender per delivery --------------------------------------------------------------


def _in_thread(target: Any, *args: Any) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        finally:
            connection.close()  # each thread has its own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_delivery_being_sent_is_not_taken_by_another_caller() -> None:
    with running(Receiver([200])) as receiver:
        receiver.gate = threading.Event()
        # Stored directly: outside a test transaction, notify would wake the real worker.
        delivery = WebhookDelivery.objects.create(
            subscription=subscribe(receiver.url), event="slo.breached", payload=BREACH
        )
        first = _in_thread(webhook_deliver_due)
        assert receiver.arrived.wait(10)  # the first caller is now waiting for the answer

        second = webhook_deliver_due()
        receiver.gate.set()
        first.join(10)

    assert second.attempted == 0
    assert receiver.delivery_ids() == [delivery.pk]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_callers_send_each_delivery_once() -> None:
    with running(Receiver([200], delay=0.01)) as receiver:
        subscription = subscribe(receiver.url)
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(subscription=subscription, event="slo.breached", payload={"n": n})
            for n in range(40)
        )
        barrier = threading.Barrier(2)
        reports: list[Any] = []

        def caller() -> None:
            barrier.wait()
            reports.append(webhook_deliver_due())

        threads = [_in_thread(caller) for _ in range(2)]
        for thread in threads:
            thread.join(30)

    assert sorted(receiver.delivery_ids()) == sorted(d.pk for d in deliveries)
    assert sum(r.delivered for r in reports) == 40
    assert WebhookDelivery.objects.filter(status="delivered").count() == 40


# --- API ----------------------------------------------------------------------------------


@pytest.fixture
def stewards(steward: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(steward)
    return client


def test_a_steward_subscribes_and_sees_the_secret_only_once(
    stewards: APIClient, orders: DataProduct
) -> None:
    created = stewards.post(
        "/api/v1/webhooks",
        {"name": "orders", "url": "https://hooks.example.com/x", "product": "orders"},
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    subscription = WebhookSubscription.objects.get()
    assert body["secret"] == subscription.secret
    assert (body["product"], body["domain"], body["events"]) == ("orders", None, [])
    assert body["createdBy"] == "sam.steward" and body["active"] is True
    listed = stewards.get("/api/v1/webhooks").json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    assert "secret" not in stewards.get(f"/api/v1/webhooks/{subscription.pk}").json()
    assert subscription.secret not in stewards.get("/api/v1/webhooks").content.decode()


def test_a_governance_token_can_subscribe_a_domain(governor: APIClient) -> None:
    Domain.objects.create(slug="sales", name="Sales")

    response = governor.post(
        "/api/v1/webhooks",
        {"name": "sales", "url": "http://receiver:8080/", "domain": "sales",
         "events": ["slo.breached", "slo.breached"]},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201, response.json()
    assert response.json()["domain"] == "sales"
    assert response.json()["events"] == ["slo.breached"]
    assert WebhookSubscription.objects.get().created_by == "stewardship"


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"url": "ftp://files.example.com/in"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"product": "no-such-product"}, "product"),
        ({"domain": "no-such-domain"}, "domain"),
        ({"events": ["slo.breached", "slo.exploded"]}, "events.1"),
        ({"product": "orders", "domain": "sales"}, "domain"),
        ({"name": ""}, "name"),
    ],
)
def test_it_rejects_a_bad_subscription_naming_the_field(
    stewards: APIClient, orders: DataProduct, fields: dict[str, Any], path: str
) -> None:
    payload = {"name": "x", "url": "https://hooks.example.com/x", **fields}

    response = stewards.post("/api/v1/webhooks", payload, format="json")

    assert response.status_code == 400
    assert path in [e["path"] for e in response.json()["errors"]], response.json()
    assert not WebhookSubscription.objects.exists()


def test_only_stewards_may_use_the_webhook_api(
    outsider: User, pipeline_token: str, anonymous: APIClient
) -> None:
    subscription = subscribe()
    as_outsider = APIClient()
    as_outsider.force_authenticate(outsider)
    as_pipeline = APIClient()
    as_pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {pipeline_token}")
    urls = ["/api/v1/webhooks", f"/api/v1/webhooks/{subscription.pk}",
            f"/api/v1/webhooks/{subscription.pk}/deliveries"]  # fmt: skip

    for url in urls:
        assert as_outsider.get(url).status_code == 403
        assert as_pipeline.get(url).status_code == 403
        assert anonymous.get(url).status_code == 401
    assert as_pipeline.post(f"/api/v1/webhooks/{subscription.pk}/ping").status_code == 403
    assert as_outsider.delete(f"/api/v1/webhooks/{subscription.pk}").status_code == 403
    assert not WebhookDelivery.objects.exists() and WebhookSubscription.objects.exists()


def test_patch_changes_the_scope_and_delete_removes_it(
    stewards: APIClient, orders: DataProduct
) -> None:
    subscription = subscribe(product=orders)
    url = f"/api/v1/webhooks/{subscription.pk}"

    changed = stewards.patch(url, {"domain": "sales", "active": False}, format="json")
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["product"], changed.json()["domain"]) == (None, "sales")
    assert changed.json()["active"] is False and "secret" not in changed.json()

    refused = stewards.patch(url, {"url": "javascript:alert(1)"}, format="json")
    assert refused.status_code == 400
    assert WebhookSubscription.objects.get().url == subscription.url

    assert stewards.delete(url).status_code == 204
    assert stewards.get(url).status_code == 404


def test_the_deliveries_are_listed_newest_first_and_filtered(stewards: APIClient) -> None:
    subscription = subscribe()
    webhook_notify(event="slo.breached", data={"n": 1})
    webhook_notify(event="slo.recovered", data={"n": 2})
    WebhookDelivery.objects.filter(event="slo.breached").update(status="failed")
    url = f"/api/v1/webhooks/{subscription.pk}/deliveries"

    everything = stewards.get(url).json()
    assert [d["event"] for d in everything["results"]] == ["slo.recovered", "slo.breached"]
    assert everything["count"] == 2 and everything["results"][0]["payload"] == {"n": 2}
    assert [d["event"] for d in stewards.get(url, {"status": "failed"}).json()["results"]] == [
        "slo.breached"
    ]
    assert stewards.get(url, {"event": "slo.recovered"}).json()["count"] == 1
    assert stewards.get(url, {"limit": 1}).json()["next"] is not None
    assert stewards.get(url, {"status": "lost"}).status_code == 400


def test_ping_queues_a_test_delivery(stewards: APIClient, healthy: Receiver) -> None:
    subscription = subscribe(healthy.url)

    response = stewards.post(f"/api/v1/webhooks/{subscription.pk}/ping")

    assert response.status_code == 202
    assert (response.json()["event"], response.json()["status"]) == ("ping", "pending")
    webhook_deliver_due()
    assert healthy.requests[0]["headers"]["X-Meshport-Event"] == "ping"
    assert json.loads(healthy.requests[0]["body"])["data"]["subscription"]["name"] == "alerts"
    assert stewards.post("/api/v1/webhooks/999999/ping").status_code == 404


# --- portal and admin ---------------------------------------------------------------------


def row_of(html: str, name: str) -> str:
    """The table row of the page that holds the subscription ``name``."""
    start = html.index(f">{name}</a>")
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


@pytest.fixture
def steward_browser(steward: User) -> Client:
    client = Client()
    client.force_login(steward)
    return client


def test_stewards_see_the_subscriptions_and_their_last_delivery(
    steward_browser: Client, orders: DataProduct
) -> None:
    orders_alerts = subscribe("https://hooks.example.com/o", name="orders-alerts", product=orders)
    sales = subscribe(
        name="sales-alerts", domain=Domain.objects.get(slug="sales"), events=["slo.breached"]
    )
    webhook_notify(event="slo.breached", data=BREACH, product=orders)
    subscribe(name="quiet")
    WebhookDelivery.objects.filter(subscription=sales).update(status="failed", last_status_code=503)
    webhook_ping(subscription=orders_alerts)

    text = steward_browser.get("/governance/webhooks/").content.decode()

    orders_row, sales_row, quiet_row = (
        row_of(text, name) for name in ("orders-alerts", "sales-alerts", "quiet")
    )
    assert "hooks.example.com/o" in orders_row and "Orders" in orders_row
    assert "pending" in orders_row
    assert "and its sub-domains" in sales_row and "slo.breached" in sales_row
    assert "failed" in sales_row and "503" in sales_row
    assert "everything" in quiet_row and "none yet" in quiet_row


def test_the_webhooks_page_query_count_does_not_grow(
    steward_browser: Client, orders: DataProduct, django_assert_max_num_queries: Any
) -> None:
    for i in range(15):
        subscription = subscribe(name=f"hook-{i}", product=orders if i % 2 else None)
        webhook_ping(subscription=subscription)
    with django_assert_max_num_queries(6):
        response = steward_browser.get("/governance/webhooks/")
    assert "hook-14" in response.content.decode()


def test_the_detail_page_shows_each_attempt(steward_browser: Client, flaky: Receiver) -> None:
    subscription = subscribe(flaky.url, name="flaky")
    webhook_notify(event="slo.breached", data=BREACH)
    webhook_deliver_due()
    webhook_deliver_due(now=later(31))

    response = steward_browser.get(f"/governance/webhooks/{subscription.pk}/")

    text = response.content.decode()
    assert response.status_code == 200
    assert "delivered" in text and "HTTP 500" in text and "oops, try later" in text
    assert text.index("#2 ·") < text.index("#1 ·")  # the latest attempt first
    assert " ms" in text and "csrfmiddlewaretoken" in text
    failed = steward_browser.get(f"/governance/webhooks/{subscription.pk}/?status=failed")
    assert "No delivery matches these filters" in failed.content.decode()


def test_the_test_ping_button_queues_a_ping(steward: User) -> None:
    subscription = subscribe()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(steward)
    url = f"/governance/webhooks/{subscription.pk}/"
    assert browser.post(url).status_code == 403  # no CSRF token

    page = browser.get(url)
    token = page.context["csrf_token"]
    response = browser.post(url, {"csrfmiddlewaretoken": str(token)}, follow=True)

    assert response.redirect_chain[-1][0] == url
    assert "Test ping queued" in response.content.decode()
    assert WebhookDelivery.objects.get().event == "ping"


def test_others_may_not_see_the_webhook_pages(outsider: User, client: Client) -> None:
    subscription = subscribe()
    urls = ["/governance/webhooks/", f"/governance/webhooks/{subscription.pk}/"]

    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(outsider)
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(urls[1]).status_code == 403
    assert not WebhookDelivery.objects.exists()


def test_the_admin_lists_subscriptions_and_deliveries(admin_user: User, client: Client) -> None:
    subscription = subscribe(name="admin-visible")
    webhook_ping(subscription=subscription)
    client.force_login(admin_user)

    subscriptions = client.get("/admin/governance/webhooksubscription/")
    deliveries = client.get("/admin/governance/webhookdelivery/?status__exact=pending")

    assert subscriptions.status_code == 200 and "admin-visible" in subscriptions.content.decode()
    assert "everything" in subscriptions.content.decode()
    assert deliveries.status_code == 200 and "ping" in deliveries.content.decode()
