"""``manage.py register_products``: a GitOps sync of descriptor folders into the catalog."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.management.commands.register_products import find_bundles
from catalog.models import DataProduct, ProductRevision, ProductStatus
from catalog.services import data_product_register
from lineage.services import lineage_events_ingest
from tests.conftest import run_event

pytestmark = pytest.mark.django_db


def odps(pid: str, *, contract: str, version: str = "1.0.0", domain: str = "sales") -> str:
    return f"""\
apiVersion: v1.0.0
kind: DataProduct
id: {pid}
name: {pid.replace("-", " ").title()}
version: {version}
status: active
domain: {domain}
outputPorts:
  - name: main
    version: {version}
    contractId: {contract}
"""


def odcs(cid: str, *, columns: tuple[str, ...] = ("id", "amount"), version: str = "1.0.0") -> str:
    props = "".join(f"      - name: {c}\n        logicalType: string\n" for c in columns)
    return f"""\
apiVersion: v3.1.0
kind: DataContract
id: {cid}
name: {cid}
version: {version}
status: active
domain: sales
servers:
  - server: prod
    type: postgres
    environment: prod
    host: db
    port: 5432
    database: shop
    schema: public
schema:
  - name: {cid.replace("-", "_")}
    properties:
{props}"""


def write_product(root: Path, pid: str) -> Path:
    folder = root / pid
    folder.mkdir(parents=True)
    (folder / "product.odps.yaml").write_text(odps(pid, contract=f"{pid}-table"))
    (folder / f"{pid}-table.odcs.yaml").write_text(odcs(f"{pid}-table"))
    return folder


def register(*args: str) -> tuple[str, str]:
    """(stdout, stderr) of a run that succeeds."""
    out, err = StringIO(), StringIO()
    call_command("register_products", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def register_failing(*args: str) -> tuple[str, str, str]:
    """(stdout, stderr, the CommandError's message) of a run that fails."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as error:
        call_command("register_products", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), str(error.value)


def statuses() -> dict[str, str]:
    return dict(DataProduct.objects.values_list("external_id", "status"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two products, one folder each."""
    write_product(tmp_path, "orders")
    write_product(tmp_path, "payments")
    return tmp_path


def test_it_registers_each_product_folder_of_a_repository(repo: Path) -> None:
    out, _ = register(str(repo), "--actor", "gitops")

    assert statuses() == {"orders": "active", "payments": "active"}
    revision = ProductRevision.objects.get(product__external_id="orders")
    assert (revision.source, revision.actor) == ("cli", "gitops")
    assert set(revision.files) == {"product.odps.yaml", "orders-table.odcs.yaml"}
    assert "2 bundles: 2 created, 0 updated, 0 unchanged, 0 failed, 0 retired" in out


def test_the_summary_names_product_domain_action_and_version(repo: Path) -> None:
    out, _ = register(str(repo))

    header, *rows = out.splitlines()[:3]
    assert header.split() == [
        "product",
        "name",
        "domain",
        "action",
        "version",
        "warnings",
        "breaking",
    ]
    assert rows[0].split() == ["orders", "Orders", "sales", "created", "1.0.0", "0", "0"]


def test_a_second_run_of_the_same_files_changes_nothing(repo: Path) -> None:
    register(str(repo))
    revisions = ProductRevision.objects.count()

    out, _ = register(str(repo))

    assert ProductRevision.objects.count() == revisions
    assert "0 created, 0 updated, 2 unchanged" in out


def test_a_changed_contract_is_a_new_revision(repo: Path) -> None:
    register(str(repo))
    (repo / "orders" / "orders-table.odcs.yaml").write_text(
        odcs("orders-table", columns=("id", "amount", "currency"))
    )

    out, _ = register(str(repo))

    assert "1 updated, 1 unchanged" in out
    assert ProductRevision.objects.filter(product__external_id="orders").count() == 2


def test_dry_run_writes_nothing_and_says_what_would_change(repo: Path) -> None:
    out, _ = register(str(repo), "--dry-run")

    assert not DataProduct.objects.exists()
    assert "2 created" in out and "dry run: nothing was written" in out


def test_a_breaking_change_is_refused_with_its_findings(repo: Path) -> None:
    register(str(repo))
    (repo / "orders" / "orders-table.odcs.yaml").write_text(odcs("orders-table", columns=("id",)))

    _, err, message = register_failing(str(repo), "--dry-run")

    assert "1 of 2 bundles failed" in message
    assert f"error: {repo / 'orders'}/" in err
    assert "breaking change(s) to active product 'orders'" in err
    assert "breaking: " in err and "amount" in err
    assert ProductRevision.objects.filter(product__external_id="orders").count() == 1


def test_a_refused_breaking_change_names_the_jobs_reading_the_dataset(repo: Path) -> None:
    register(str(repo))
    reader = run_event(
        job=("airflow://finance", "revenue"),
        inputs=[{"namespace": "postgres://db:5432", "name": "shop.public.orders_table"}],
    )
    assert lineage_events_ingest(payloads=[reader], token_name="airflow").accepted == 1
    (repo / "orders" / "orders-table.odcs.yaml").write_text(odcs("orders-table", columns=("id",)))

    _, err, _ = register_failing(str(repo))

    assert "read by airflow://finance:revenue" in err


def test_dry_run_with_accept_breaking_counts_the_breaking_findings(repo: Path) -> None:
    register(str(repo))
    (repo / "orders" / "orders-table.odcs.yaml").write_text(odcs("orders-table", columns=("id",)))

    out, _ = register(str(repo), "--dry-run", "--accept-breaking")

    row = next(line for line in out.splitlines() if line.startswith("orders "))
    assert row.split()[3:] == ["updated", "1.0.0", "0", "1"]
    assert ProductRevision.objects.filter(product__external_id="orders").count() == 1


def test_a_refused_breaking_change_counts_in_the_summary(repo: Path) -> None:
    register(str(repo))
    (repo / "orders" / "orders-table.odcs.yaml").write_text(odcs("orders-table", columns=("id",)))

    out, _, _ = register_failing(str(repo))

    row = next(line for line in out.splitlines() if line.startswith("orders "))
    assert row.split()[3:] == ["failed", "1.0.0", "0", "1"]
    assert ProductRevision.objects.filter(product__external_id="orders").count() == 1


def test_prune_retires_a_removed_product_but_not_one_published_through_the_api(
    repo: Path,
) -> None:
    register(str(repo))
    files = {"p.yaml": odps("ledger", contract="ledger-table"), "c.yaml": odcs("ledger-table")}
    data_product_register(files=files, actor="ci", source="api")
    for path in (repo / "payments").iterdir():
        path.unlink()
    (repo / "payments").rmdir()

    out, _ = register(str(repo), "--prune")

    assert statuses() == {"orders": "active", "payments": "retired", "ledger": "active"}
    assert "1 unchanged, 0 failed, 1 retired" in out


def test_prune_with_dry_run_retires_nothing(repo: Path) -> None:
    register(str(repo))

    out, _ = register(str(repo / "orders"), "--prune", "--dry-run")

    assert statuses() == {"orders": "active", "payments": "active"}
    assert "1 retired (dry run: nothing was written)" in out


def test_prune_retires_nothing_when_a_bundle_cannot_be_parsed(repo: Path) -> None:
    register(str(repo))
    (repo / "payments" / "product.odps.yaml").write_text("id: [unclosed\n")

    _, err, _ = register_failing(str(repo / "orders"), str(repo / "payments"), "--prune")

    assert "not pruning" in err
    assert statuses() == {"orders": "active", "payments": "active"}


def test_a_retired_product_comes_back_when_its_folder_returns(repo: Path) -> None:
    register(str(repo))
    register(str(repo / "orders"), "--prune")

    out, _ = register(str(repo))

    assert statuses() == {"orders": "active", "payments": "active"}
    assert "1 updated, 1 unchanged" in out


def test_a_bad_file_fails_its_bundle_with_file_and_path_while_others_register(
    repo: Path,
) -> None:
    broken = write_product(repo, "refunds")
    (broken / "product.odps.yaml").write_text(
        odps("refunds", contract="no-such-contract")  # a typo in the contract id
    )

    out, err, message = register_failing(str(repo))

    assert statuses() == {"orders": "active", "payments": "active"}
    assert f"{broken / 'product.odps.yaml'}: outputPorts/0/contractId: unknown contractId" in err
    assert "2 created, 0 updated, 0 unchanged, 1 failed" in out
    assert message == "1 of 3 bundles failed (see above)"


def test_a_yaml_syntax_error_names_the_file_and_line(repo: Path) -> None:
    (repo / "orders" / "orders-table.odcs.yaml").write_text("id: x\nschema: [unclosed\n")

    _, err, _ = register_failing(str(repo))

    assert f"{repo / 'orders' / 'orders-table.odcs.yaml'}: YAML syntax error at line" in err
    assert statuses() == {"payments": "active"}


def test_two_bundles_with_one_product_id_are_both_refused(repo: Path) -> None:
    copy = repo / "orders-copy"
    copy.mkdir()
    for path in (repo / "orders").iterdir():
        (copy / path.name).write_text(path.read_text())

    _, err, _ = register_failing(str(repo))

    assert "product id 'orders' is also the id of" in err
    assert statuses() == {"payments": "active"}


def test_loose_contracts_beside_product_folders_are_products_of_their_own(repo: Path) -> None:
    (repo / "fx-rates.odcs.yaml").write_text(odcs("fx-rates"))

    register(str(repo))

    assert statuses() == {"orders": "active", "payments": "active", "fx-rates": "active"}


def test_product_folders_may_be_grouped_by_domain(tmp_path: Path) -> None:
    write_product(tmp_path / "sales", "orders")
    write_product(tmp_path / "finance", "ledger")

    bundles = find_bundles([tmp_path])

    assert [b.label for b in bundles] == [
        f"{tmp_path / 'finance' / 'ledger'}/",
        f"{tmp_path / 'sales' / 'orders'}/",
    ]


def test_a_product_folder_takes_the_contracts_of_its_sub_folders(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    (folder / "contracts").mkdir(parents=True)
    (folder / "product.odps.yaml").write_text(odps("orders", contract="orders-table"))
    (folder / "contracts" / "orders.odcs.yaml").write_text(odcs("orders-table"))
    (folder / "README.md").write_text("# Orders\n")

    register(str(tmp_path))

    revision = ProductRevision.objects.get(product__external_id="orders")
    assert set(revision.files) == {"product.odps.yaml", "contracts/orders.odcs.yaml"}


def test_contracts_of_a_broken_product_are_not_registered_on_their_own(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "product.odps.yaml").write_text("kind: DataProduct\nid: [unclosed\n")
    (folder / "orders-table.odcs.yaml").write_text(odcs("orders-table"))

    register_failing(str(tmp_path))

    assert not DataProduct.objects.exists()


def test_a_single_file_can_be_registered(tmp_path: Path) -> None:
    path = tmp_path / "fx.odcs.yaml"
    path.write_text(odcs("fx-rates"))

    register(str(path))

    assert statuses() == {"fx-rates": "active"}
    assert DataProduct.objects.get().status == ProductStatus.ACTIVE


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file or folder"):
        register(str(tmp_path / "nope"))


def test_strict_refuses_a_bundle_with_a_schema_error(repo: Path) -> None:
    product = repo / "orders" / "product.odps.yaml"
    product.write_text(product.read_text() + "unexpectedRootKey: true\n")

    _, err, message = register_failing(str(repo), "--strict")

    assert "unexpectedRootKey" in err and "1 of 2 bundles failed" in message
    assert statuses() == {"payments": "active"}
