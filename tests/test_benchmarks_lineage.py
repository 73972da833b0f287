"""The synthetic lineage mesh of the graph benchmark: counts and shape at the small scale."""

from __future__ import annotations

import pytest
from django.db.models import Count, Exists, F, OuterRef, Q

from benchmarks.lineage_synth import SCALES, Mesh, build_plan, samples, write_mesh
from catalog.models import Dataset, DatasetField, Namespace
from lineage.models import ColumnLineage, Job, JobDataset, Run, RunDataset, RunState

SMALL = SCALES["small"]


@pytest.fixture(scope="module")
def mesh() -> Mesh:
    return build_plan(SMALL, seed=7)


@pytest.fixture
def written(db: None, mesh: Mesh) -> dict[str, int]:
    return write_mesh(mesh)


def test_the_plan_is_deterministic(mesh: Mesh) -> None:
    again = build_plan(SMALL, seed=7)
    assert again.ds_name == mesh.ds_name
    assert again.job_inputs == mesh.job_inputs
    assert build_plan(SMALL, seed=8).job_inputs != mesh.job_inputs


def test_counts(written: dict[str, int], mesh: Mesh) -> None:
    assert Dataset.objects.count() == SMALL.datasets == written["dataset"]
    assert Job.objects.count() == Run.objects.count() == SMALL.jobs
    edges = sum(len(i) + len(o) for i, o in zip(mesh.job_inputs, mesh.job_outputs, strict=True))
    assert JobDataset.objects.count() == RunDataset.objects.count() == edges
    assert 4 * SMALL.datasets < DatasetField.objects.count() < 6 * SMALL.datasets
    assert ColumnLineage.objects.count() == written["columnlineage"] > SMALL.jobs


def test_every_job_reads_and_writes(written: dict[str, int]) -> None:
    jobs = Job.objects.annotate(
        inputs=Count("dataset_edges", filter=Q(dataset_edges__direction="input")),
        outputs=Count("dataset_edges", filter=Q(dataset_edges__direction="output")),
    )
    assert not jobs.filter(Q(inputs=0) | Q(outputs=0)).exists()
    # 1–4 inputs, up to 2 hubs and its own output; 1–3 outputs and a write-back.
    assert not jobs.filter(Q(inputs__gt=7) | Q(outputs__gt=4)).exists()


def test_hubs_cycles_and_namespaces(written: dict[str, int]) -> None:
    readers = (
        JobDataset.objects.filter(direction="input")
        .values("dataset")
        .annotate(n=Count("job"))
        .order_by("-n")
        .values_list("n", flat=True)
    )
    assert readers[0] >= 100  # the most read table has hundreds of readers
    reads_own_output = JobDataset.objects.filter(
        direction="input",
        job__dataset_edges__direction="output",
        job__dataset_edges__dataset=F("dataset"),
    )
    assert reads_own_output.exists()  # a few cycles, as real graphs have
    names = list(Namespace.objects.values_list("name", flat=True))
    assert any(":" in n and "/" in n for n in names)
    assert "kafka://broker.prod.internal:9092" in names


def test_column_lineage_points_at_fields(written: dict[str, int]) -> None:
    def field_of(dataset: str, name: str) -> Exists:
        return Exists(DatasetField.objects.filter(dataset=OuterRef(dataset), name=OuterRef(name)))

    rows = ColumnLineage.objects.all()
    assert not rows.exclude(field_of("input_dataset", "input_field")).exists()
    per_field = rows.exclude(output_field="")
    assert not per_field.exclude(field_of("output_dataset", "output_field")).exists()
    assert per_field.filter(transformation_subtype="IDENTITY").exists()
    assert rows.filter(transformation_type="INDIRECT", output_field="").exists()
    # The input is one of the job's inputs, the output one of its outputs.
    for end, direction in (("input_dataset", "input"), ("output_dataset", "output")):
        edge = JobDataset.objects.filter(
            job=OuterRef("job"), dataset=OuterRef(end), direction=direction
        )
        assert not rows.exclude(Exists(edge)).exists()


def test_latest_runs(written: dict[str, int]) -> None:
    assert not Job.objects.filter(latest_run=None).exists()
    assert not Job.objects.exclude(latest_run__job=F("pk")).exists()
    failed = Run.objects.filter(state=RunState.FAILED).count()
    completed = Run.objects.filter(state=RunState.COMPLETED).count()
    assert failed + completed == SMALL.jobs
    assert 0.02 * SMALL.jobs < failed < 0.1 * SMALL.jobs


def test_samples_name_existing_nodes(written: dict[str, int], mesh: Mesh) -> None:
    picked = samples(mesh, count=20)
    known = {d.node_id for d in Dataset.objects.select_related("namespace")}
    for kind in ("late_datasets", "early_datasets", "middle_datasets", "quiet_datasets"):
        assert picked[kind] and set(picked[kind]) <= known
    field_id = picked["late_fields"][0]
    dataset_id, name = field_id.removeprefix("datasetField:").rsplit(":", 1)
    assert f"dataset:{dataset_id}" in known
    assert DatasetField.objects.filter(name=name).exists()
