from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "lineage"
    verbose_name = "Lineage"

    def ready(self) -> None:
        # Catalog pages show lineage through its panel registry: catalog never imports us.
        from catalog.consumers import register_consumer_finder
        from catalog.panels import (
            register_dataset_panel,
            register_home_panel,
            register_product_panel,
        )
        from catalog.search.documents import register_enricher, register_source
        from lineage import search, selectors, views

        register_source(search.JobSource())
        register_enricher("dataset", search.enrich_datasets)
        register_enricher("product", search.enrich_products)

        register_consumer_finder(selectors.dataset_consumers)

        register_home_panel(views.home_panel)
        register_dataset_panel(views.dataset_panel)
        register_product_panel(views.product_panel)
