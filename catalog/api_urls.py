from django.urls import path

from catalog import api, ownership_api, search_api

# Product ids may hold "/" and ":": the sub-resources are matched first.
urlpatterns = [
    path("search", search_api.SearchView.as_view(), name="api-search"),
    path("search/suggest", search_api.SuggestView.as_view(), name="api-search-suggest"),
    path("search/status", search_api.SearchStatusView.as_view(), name="api-search-status"),
    path("products", api.ProductListView.as_view(), name="api-products"),
    path(
        "products/<path:product_id>/revisions/<int:number>",
        api.RevisionView.as_view(),
        name="api-product-revision",
    ),
    path(
        "products/<path:product_id>/revisions",
        api.RevisionListView.as_view(),
        name="api-product-revisions",
    ),
    path(
        "products/<path:product_id>/lineage",
        api.ProductLineageView.as_view(),
        name="api-product-lineage",
    ),
    path("products/<path:product_id>/diff", api.DiffView.as_view(), name="api-product-diff"),
    path("ownerships", ownership_api.OwnershipListView.as_view(), name="api-ownerships"),
    path(
        "ownerships/history",
        ownership_api.OwnershipHistoryView.as_view(),
        name="api-ownership-history",
    ),
    path("ownerships/<int:pk>", ownership_api.OwnershipView.as_view(), name="api-ownership"),
    path("teams", ownership_api.TeamListView.as_view(), name="api-teams"),
    path("teams/<int:pk>", ownership_api.TeamView.as_view(), name="api-team"),
    path("people", ownership_api.PersonListView.as_view(), name="api-people"),
    path("products/<path:product_id>", api.ProductView.as_view(), name="api-product"),
]
