from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.audit import Via, audit_value, token_recorded
from catalog.models import ApiToken, Dataset, DatasetField, DatasetVersion, Namespace
from catalog.search.outbox import search_outbox_add
from catalog.services import api_token_issue, api_token_revoke


class AuditedAdmin(admin.ModelAdmin):
    """Deletions made here go through :meth:`delete_one`, the model's own service, which
    records them in the audit log as the admin's, as the portal and the API record
    theirs; a bulk delete is one transaction."""

    def delete_one(self, obj: Any, actor: str) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_one(obj, request.user.get_username())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete_one(obj, request.user.get_username())


class SearchIndexedAdmin(admin.ModelAdmin):
    """Edits in the admin reach the search index like any other change: through the
    outbox, in the admin's own transaction."""

    search_type = ""

    def _queue(self, pks: list[Any]) -> None:
        search_outbox_add(f"{self.search_type}:{pk}" for pk in pks)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self._queue([obj.pk])

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        pk = obj.pk
        super().delete_model(request, obj)
        self._queue([pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        pks = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        self._queue(pks)


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    list_display = ["name", "owner_name", "created_at"]
    search_fields = ["name"]


class DatasetFieldInline(admin.TabularInline):
    model = DatasetField
    extra = 0
    fields = ["name", "type", "description", "ordinal"]


@admin.register(Dataset)
class DatasetAdmin(SearchIndexedAdmin):
    search_type = "dataset"
    list_display = ["name", "namespace", "type", "subtype", "updated_at", "is_deleted"]
    list_filter = ["type", "is_deleted"]
    search_fields = ["name", "namespace__name", "description"]
    list_select_related = ["namespace"]
    raw_id_fields = ["current_version"]
    inlines = [DatasetFieldInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["dataset", "version", "created_at"]
    list_select_related = ["dataset__namespace"]
    raw_id_fields = ["dataset"]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    """Tokens are created here with their secret shown once, in a message."""

    list_display = [
        "name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at", "created_by"]
    fields = [
        "name",
        "scopes",
        "expires_at",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            changed = {
                field: [audit_value(form.initial.get(field)), audit_value(form.cleaned_data[field])]
                for field in form.changed_data
            }
            with transaction.atomic():
                super().save_model(request, obj, form, change)
                actor = request.user.get_username()
                token_recorded(obj, "changed", actor=actor, via=Via.ADMIN, changed=changed)
            return
        scopes = obj.scopes if isinstance(obj.scopes, list) else [str(obj.scopes)]
        token, secret = api_token_issue(
            name=obj.name,
            scopes=scopes,
            actor=request.user.get_username(),
            via=Via.ADMIN,
            expires_at=obj.expires_at,
            created_by=request.user,
        )
        obj.pk = token.pk
        self.message_user(
            request,
            f"Token {token.name!r} created. Copy it now, it will not be shown again: {secret}",
            messages.WARNING,
        )

    def delete_one(self, obj: ApiToken, actor: str) -> None:
        with transaction.atomic():
            token_recorded(obj, "deleted", actor=actor, via=Via.ADMIN)
            obj.delete()

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            api_token_revoke(token=token, actor=request.user.get_username(), via=Via.ADMIN)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")
