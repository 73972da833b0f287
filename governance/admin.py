from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from catalog.admin import AuditedAdmin
from catalog.audit import Via
from governance.checks import RULE, UnknownCheck, check_type
from governance.models import (
    Scorecard,
    ScorecardCheck,
    ScorecardLevel,
    ScorecardRun,
    Slo,
    SloSegment,
    Waiver,
    WaiverEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from governance.rules import RuleError
from governance.scorecard_services import (
    scorecard_delete,
    scorecard_recorded,
    scorecard_run_request,
)
from governance.scorecards import cron, filters_from
from governance.services import slo_delete, slo_save
from governance.webhooks import (
    validate_webhook_url,
    webhook_delete,
    webhook_ping,
    webhook_recorded,
)

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
class WebhookSubscriptionAdmin(AuditedAdmin):
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
        actor = request.user.get_username()
        if not change:
            obj.created_by = actor
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            verb, fields = ("changed", form.changed_data) if change else ("created", ())
            webhook_recorded(obj, verb, actor=actor, via=Via.ADMIN, fields=fields)
        if not change:
            self.message_user(
                request,
                f"Webhook {obj.name!r} created. Its signing secret, shown only now: {obj.secret}",
                messages.WARNING,
            )

    def delete_one(self, obj: WebhookSubscription, actor: str) -> None:
        webhook_delete(subscription=obj, actor=actor, via=Via.ADMIN)

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
class SloAdmin(AuditedAdmin):
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
        slo_save(slo=obj, actor=request.user.get_username(), via=Via.ADMIN)

    def delete_one(self, obj: Slo, actor: str) -> None:
        slo_delete(slo=obj, actor=actor, via=Via.ADMIN)


# --- scorecards ---------------------------------------------------------------------------


class ScorecardForm(forms.ModelForm):
    """The same rules as a scorecard file: a five-field cron schedule, known filters."""

    class Meta:
        model = Scorecard
        fields = ["slug", "name", "description", "schedule", "filters", "enabled"]

    def clean_schedule(self) -> str:
        schedule = (self.cleaned_data.get("schedule") or "").strip()
        if schedule:
            try:
                cron(schedule)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        return schedule

    def clean_filters(self) -> dict[str, Any]:
        errors: list[tuple[str, str]] = []
        found = filters_from(self.cleaned_data.get("filters") or {}, "filters", errors)
        if errors:
            raise forms.ValidationError("; ".join(f"{p}: {m}" for p, m in errors))
        return found


class ScorecardCheckForm(forms.ModelForm):
    class Meta:
        model = ScorecardCheck
        fields = [
            "ordinal", "key", "check_name", "rule", "name", "category", "level", "weight",
            "params", "remediation", "enabled_from",
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        name = cleaned.get("check_name") or ""
        try:
            check_type(name, cleaned.get("rule") or "")
        except (UnknownCheck, RuleError) as exc:
            raise forms.ValidationError(
                {"rule" if name == RULE else "check_name": str(exc)}
            ) from None
        if not isinstance(cleaned.get("params") or {}, dict):
            raise forms.ValidationError({"params": "A JSON object of parameters."})
        return cleaned


class ScorecardLevelInline(admin.TabularInline):
    model = ScorecardLevel
    extra = 0
    fields = ["rank", "slug", "name", "color"]


class ScorecardCheckInline(admin.TabularInline):
    model = ScorecardCheck
    form = ScorecardCheckForm
    extra = 0

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "level":  # the levels of this scorecard only
            match = request.resolver_match
            pk = match.kwargs.get("object_id") if match else None
            kwargs["queryset"] = ScorecardLevel.objects.filter(scorecard_id=pk or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Scorecard)
class ScorecardAdmin(AuditedAdmin):
    """Scorecards defined as code can be edited here too; the next file load replaces them."""

    form = ScorecardForm
    inlines = [ScorecardLevelInline, ScorecardCheckInline]
    list_display = ["name", "slug", "schedule", "enabled", "source", "last_run"]
    list_filter = ["enabled", "source"]
    search_fields = ["name", "slug"]
    readonly_fields = ["source", "source_path", "last_run", "created_at", "updated_at"]
    actions = ["run_now"]

    def save_model(self, request: HttpRequest, obj: Scorecard, form: Any, change: bool) -> None:
        obj.source = Scorecard.Source.ADMIN
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Recorded once its levels and checks are saved (the admin's transaction)."""
        super().save_related(request, form, formsets, change)
        verb = "changed" if change else "created"
        scorecard_recorded(form.instance, verb, request.user.get_username(), Via.ADMIN)

    def delete_one(self, obj: Scorecard, actor: str) -> None:
        scorecard_delete(scorecard=obj, actor=actor, via=Via.ADMIN)

    @admin.action(description="Run the selected scorecards now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[Scorecard]) -> None:
        for scorecard in queryset:
            scorecard_run_request(
                scorecard=scorecard, requested_by=request.user.get_username(), via=Via.ADMIN
            )
        messages.success(request, f"{queryset.count()} run(s) queued for the worker.")


@admin.register(ScorecardRun)
class ScorecardRunAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "scorecard",
        "trigger",
        "status",
        "slot",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "trigger", "scorecard"]
    list_select_related = ["scorecard"]
    readonly_fields = [f.name for f in ScorecardRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class WaiverEventInline(admin.TabularInline):
    model = WaiverEvent
    extra = 0
    readonly_fields = ["at", "action", "actor", "note"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Waiver)
class WaiverAdmin(admin.ModelAdmin):
    """Read here, decided in the portal's waiver queue (which keeps the audit trail)."""

    list_display = ["product", "check_key", "scorecard", "status", "expires_at", "requested_by"]
    list_filter = ["status", "scorecard"]
    search_fields = ["product__external_id", "check_key", "requested_by"]
    list_select_related = ["product", "scorecard"]
    inlines = [WaiverEventInline]
    readonly_fields = [f.name for f in Waiver._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked in the portal, which records it
