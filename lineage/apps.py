from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "lineage"
    verbose_name = "Lineage"

    def ready(self) -> None:
        # Catalog pages show lineage through its panel registry: catalog never imports us.
        from catalog.panels import (
            register_dataset_panel,
            register_home_panel,
            register_search_panel,
        )
        from lineage import views

        register_home_panel(views.home_panel)
        register_dataset_panel(views.dataset_panel)
        register_search_panel(views.search_panel)
