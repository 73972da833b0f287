"""Lineage's part of search: jobs as documents, and popularity for datasets and products.

Popularity is what lineage observes: how many jobs read a dataset (its consumers), and
how many runs wrote it successfully in the last ``RECENT_DAYS`` days. A product takes both
from the datasets its output ports bind. Registered from ``LineageConfig.ready()``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from catalog.models import Domain, PortBinding
from catalog.search.base import SearchDocument
from catalog.search.sources import ModelSource, dataset_pks, int_keys, owner_name, platform
from catalog.tags import tag_words
from lineage.models import Direction, Job, JobDataset, Run, RunDataset, RunState

RECENT_DAYS = 30


class JobSource(ModelSource):
    type = "job"
    model = Job

    def build(self, keys: Sequence[str]) -> list[SearchDocument]:
        jobs = list(
            Job.objects.filter(pk__in=int_keys(keys)).select_related("namespace", "latest_run")
        )
        pks = [job.pk for job in jobs]
        domains = _job_domains(pks)
        readers = _readers_of_outputs(pks)
        runs = _recent_successes("job_id", pks)
        return [
            self._document(job, domains.get(job.pk), readers.get(job.pk, 0), runs.get(job.pk, 0))
            for job in jobs
        ]

    def _document(self, job: Job, domain: Domain | None, readers: int, runs: int) -> SearchDocument:
        namespace = job.namespace.name
        state = job.latest_run.state.lower() if job.latest_run else ""
        return SearchDocument(
            id=f"job:{job.pk}",
            type="job",
            name=job.name,
            url=job.get_absolute_url(),
            subtitle=" · ".join(x for x in (namespace, job.integration, state) if x),
            exact=[
                f"{namespace}/{job.name}",
                f"{namespace}:{job.name}",
                f"job:{namespace}:{job.name}",
            ],
            tags=tag_words(job.tags),
            description=job.description,
            sql=job.sql,
            facets={
                "domain": [domain.slug] if domain else [],
                "owner": list(dict.fromkeys(map(owner_name, job.owners))),
                "tag": tag_words(job.tags),
                "platform": [p] if (p := (job.integration.lower() or platform(namespace))) else [],
                "namespace": [namespace],
            },
            labels={domain.slug: domain.name} if domain else {},
            consumers=readers,
            recent_runs=runs,
            updated_at=job.latest_run_at or job.updated_at,
        )


def _job_domains(pks: Sequence[int]) -> dict[int, Domain]:
    """The domain of the first product that binds one of each job's outputs."""
    outputs = JobDataset.objects.filter(job_id__in=pks, direction=Direction.OUTPUT).values_list(
        "job_id", "dataset__namespace__name", "dataset__name"
    )
    by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
    for job, ns, name in outputs:
        by_pair[(ns, name)].append(job)
    if not by_pair:
        return {}
    bindings = PortBinding.objects.filter(
        namespace__in={ns for ns, _ in by_pair}, name__in={n for _, n in by_pair}
    ).select_related("port__product__domain")
    found: dict[int, Domain] = {}
    for binding in bindings.order_by("pk"):
        domain = binding.port.product.domain
        for job in by_pair.get((binding.namespace, binding.name), []):
            if domain:
                found.setdefault(job, domain)
    return found


def _readers_of_outputs(pks: Sequence[int]) -> dict[int, int]:
    """How many other jobs read what each job writes."""
    outputs = JobDataset.objects.filter(job_id__in=pks, direction=Direction.OUTPUT)
    readers = _readers(outputs.values("dataset_id"))
    found: dict[int, set[int]] = defaultdict(set)
    for job, dataset in outputs.values_list("job_id", "dataset_id"):
        found[job] |= readers.get(dataset, set()) - {job}
    return {job: len(jobs) for job, jobs in found.items()}


def _recent_successes(key: str, pks: Sequence[int]) -> dict[int, int]:
    """Completed runs in the last ``RECENT_DAYS`` days, per job (``job_id``) or per
    written dataset (``dataset_id``)."""
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    if key == "job_id":
        runs = Run.objects.filter(job_id__in=pks, state=RunState.COMPLETED, ended_at__gte=since)
        return dict(runs.values_list("job_id").annotate(n=Count("pk")).values_list("job_id", "n"))
    rows = RunDataset.objects.filter(
        dataset_id__in=pks,
        direction=Direction.OUTPUT,
        run__state=RunState.COMPLETED,
        run__ended_at__gte=since,
    )
    return dict(
        rows.values_list("dataset_id").annotate(n=Count("run_id")).values_list("dataset_id", "n")
    )


def _readers(datasets: Iterable[int] | QuerySet[Any]) -> dict[int, set[int]]:
    """The jobs reading each dataset (primary keys, or a query of them)."""
    rows = JobDataset.objects.filter(
        dataset_id__in=datasets, direction=Direction.INPUT
    ).values_list("dataset_id", "job_id")
    found: dict[int, set[int]] = defaultdict(set)
    for dataset, job in rows:
        found[dataset].add(job)
    return found


def enrich_datasets(documents: dict[str, SearchDocument]) -> None:
    pks = int_keys(list(documents))
    readers = _readers(pks)
    runs = _recent_successes("dataset_id", pks)
    for key, doc in documents.items():
        doc.consumers = len(readers.get(int(key), ()))
        doc.recent_runs = runs.get(int(key), 0)


def enrich_products(documents: dict[str, SearchDocument]) -> None:
    """A product's consumers: products declaring it as input, plus jobs reading what it
    publishes; its recent runs: successful writes of what it publishes."""
    bindings = PortBinding.objects.filter(
        port__product_id__in=int_keys(list(documents)), port__direction="output"
    ).values_list("port__product_id", "namespace", "name")
    datasets = dataset_pks({(ns, name) for _, ns, name in bindings})
    readers = _readers(list(datasets.values()))
    runs = _recent_successes("dataset_id", list(datasets.values()))
    jobs: dict[int, set[int]] = defaultdict(set)
    writes: dict[int, int] = defaultdict(int)
    for product, ns, name in bindings:
        if (pk := datasets.get((ns, name))) is not None:
            jobs[product] |= readers.get(pk, set())
            writes[product] += runs.get(pk, 0)
    for key, doc in documents.items():
        doc.consumers += len(jobs.get(int(key), ()))
        doc.recent_runs = writes.get(int(key), 0)
