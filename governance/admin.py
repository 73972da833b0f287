from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from governance.models import Slo, SloSegment, WebhookDelivery, WebhookSubscription
from governance.services import slo_save
from governance.webhooks import validate_webhook_url, webhook_ping

# --- webhooks -----------------------------------------------------------------------------


class WebhookSubscriptionForm(forms.ModelForm):
    """The same rules as the API: http(s) URLs, known events, one scope at most."""

    url = forms.URLField(max_length=2048, assume_scheme="https", validators=[validate_webhook_url])

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "product", "domain", "events", "active"]

    def clean_events(self) -> list[str]:
        events = self.cleaned_data["events"] or []
        if not isinstance(events, list) or any(e not in WebhookSubscription.EVENTS for e in events):
            known = ", ".join(WebhookSubscription.EVENTS)
            raise forms.ValidationError(f"A JSON list of event names among: {known}.")
        return events

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("product") and cleaned.get("domain"):
            raise forms.ValidationError(
                "Scope the subscription to a product or a domain, not both."
            )
        return cleaned


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """The secret is shown once, when the subscription is created, like API tokens."""

    form = WebhookSubscriptionForm
    list_display = ["name", "url", "scope", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    list_select_related = ["product", "domain"]
    raw_id_fields = ["product"]
    readonly_fields = ["created_by", "created_at"]
    actions = ["ping"]

    @admin.display(description="scope")
    def scope(self, obj: WebhookSubscription) -> str:
        if obj.product_id:
            return f"product {obj.product}"
        if obj.domain_id:
            return f"domain {obj.domain} and sub-domains"
        return "everything"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                f"Webhook {obj.name!r} created. Its signing secret, shown only now: {obj.secret}",
                messages.WARNING,
            )

    @admin.action(description="Send a test ping")
    def ping(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            webhook_ping(subscription=subscription)
        self.message_user(request, f"Queued {len(queryset)} test ping(s).")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """A read-only log: deliveries are made by the services and the worker."""

    list_display = [
        "event",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["subscription__name", "event"]
    list_select_related = ["subscription"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- SLOs ---------------------------------------------------------------------------------


class SloSegmentInline(admin.TabularInline):
    model = SloSegment
    fields = ["state", "start", "end", "evidence"]
    readonly_fields = ["state", "start", "end", "evidence"]
    extra = 0
    can_delete = False
    ordering = ["-start"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Slo)
class SloAdmin(admin.ModelAdmin):
    """SLOs added here are evaluated on save; a contract's SLO changes with its contract."""

    list_display = ["name", "kind", "product", "state", "state_since", "budget_remaining", "source"]
    list_filter = ["kind", "state", "source", "enabled"]
    search_fields = ["name", "product__external_id", "namespace", "dataset_name"]
    list_select_related = ["product"]
    readonly_fields = ["source", "key", "state", "state_since", "evidence", "evaluated_at",
                       "attainment_7d", "attainment_28d", "budget_remaining", "burn_rate_1d",
                       "burn_rate_7d", "created_at", "updated_at"]  # fmt: skip
    inlines = [SloSegmentInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        locked = list(self.readonly_fields)
        if obj is not None and obj.source == Slo.Source.CONTRACT:
            locked += ["product", "name", "kind", "namespace", "dataset_name", "element",
                       "threshold_seconds", "min_rows", "max_rows", "tolerance", "target",
                       "window_seconds"]  # fmt: skip
        return locked

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.source = Slo.Source.ADMIN
        slo_save(slo=obj)
