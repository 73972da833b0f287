from django.contrib import admin

from catalog.admin import SearchIndexedAdmin
from lineage.models import ColumnLineage, Job, LineageEvent, Run


@admin.register(LineageEvent)
class LineageEventAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "event_type",
        "event_time",
        "job_name",
        "token_name",
        "duplicates",
        "received_at",
    ]
    list_filter = ["kind", "event_type", "token_name"]
    search_fields = ["job_name", "job_namespace", "hash"]
    readonly_fields = [f.name for f in LineageEvent._meta.fields]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # the raw log is append-only


@admin.register(Job)
class JobAdmin(SearchIndexedAdmin):
    search_type = "job"
    list_display = ["name", "namespace", "type", "integration", "updated_at"]
    search_fields = ["name", "namespace__name"]
    list_select_related = ["namespace"]
    raw_id_fields = ["parent", "latest_run"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["uuid", "job", "state", "started_at", "ended_at"]
    list_filter = ["state"]
    search_fields = ["uuid", "job__name"]
    list_select_related = ["job__namespace"]
    raw_id_fields = ["job", "parent"]


@admin.register(ColumnLineage)
class ColumnLineageAdmin(admin.ModelAdmin):
    list_display = [
        "output_dataset",
        "output_field",
        "input_dataset",
        "input_field",
        "transformation_type",
        "transformation_subtype",
    ]
    raw_id_fields = ["output_dataset", "input_dataset", "job"]
