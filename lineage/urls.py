from django.urls import path

from lineage import graph_views, views

app_name = "lineage"

urlpatterns = [
    path("runs/", views.runs, name="runs"),
    path("graph/", graph_views.graph_page, name="graph"),
    path("runs/<uuid:run_uuid>/", views.run_detail, name="run-detail"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
]
