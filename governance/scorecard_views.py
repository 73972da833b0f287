"""Scorecard pages (the dashboard, one scorecard, one run, previewing a change), the waiver
queue and requests, and the scorecard panel of product pages.

Anyone may read scorecards and runs; stewards (:func:`~catalog.roles.is_steward`)
run them, change them and decide waivers; a product's owners and stewards ask for waivers.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import Any

import yaml
from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from catalog.audit import Via
from catalog.descriptors.loading import yaml_load
from catalog.models import DataProduct
from catalog.panels import Panel
from catalog.roles import is_steward
from governance import scorecard_selectors as selectors
from governance.models import Scorecard, ScorecardRun, Waiver
from governance.scorecard_services import (
    WaiverError,
    scorecard_dry_run,
    scorecard_run_request,
    scorecard_save,
    waiver_decide,
    waiver_request,
    waiver_revoke,
)
from governance.scorecards import Definition, DefinitionError, definition_from_dict
from meshport.access import deny, stewards_only

CHANGED_SHOWN = 100  # products listed under a preview
DEFAULT_WAIVER_DAYS = 30  # the expiry a waiver form proposes

# --- input ------------------------------------------------------------------------------------


class WaiverRequestForm(forms.Form):
    product = forms.CharField(max_length=255)
    scorecard = forms.SlugField(max_length=100, required=False)
    check = forms.SlugField(max_length=100)
    justification = forms.CharField(max_length=4000, widget=forms.Textarea)
    expires_at = forms.DateField(label="Expires on")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("deny", "deny")])
    note = forms.CharField(max_length=4000, required=False)
    expires_at = forms.DateField(required=False, label="Expires on")


class RevokeForm(forms.Form):
    note = forms.CharField(max_length=4000, required=False)


class PreviewForm(forms.Form):
    definition = forms.CharField(max_length=200_000, strip=False)
    action = forms.ChoiceField(choices=[("preview", "preview"), ("save", "save")], required=False)
    previewed = forms.CharField(max_length=64, required=False)  # the digest of what was previewed


def default_expiry(now: datetime) -> date:
    return timezone.localdate(now) + timedelta(days=DEFAULT_WAIVER_DAYS)


def end_of(day: Any) -> datetime:
    """A waiver "until 2026-12-31" holds through that day, in the site's time zone."""
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def form_errors(form: forms.Form) -> list[tuple[str, str]]:
    return [(name, str(message)) for name, errs in form.errors.items() for message in errs]


def _scorecard_or_404(slug: str) -> Scorecard:
    scorecard = selectors.scorecard_get(slug=slug)
    if scorecard is None:
        raise Http404(f"No scorecard {slug!r}.")
    return scorecard


def _stewards_only(request: HttpRequest, what: str) -> HttpResponse | None:
    """``None`` for a steward; the login page for a visitor's GET; else a 403."""
    return None if is_steward(request.user) else deny(request, stewards_only(what))


# --- the panel on product pages (registered in GovernanceConfig.ready) ----------------------


def product_panel(product: DataProduct) -> Panel:
    """The product's level, score and checks in each scorecard's last run, and its waivers."""
    now = timezone.now()
    scores = selectors.product_scores(product=product, now=now)
    return Panel(
        "governance/_scorecard_panel.html",
        {
            "product": product,
            "cards": scores.cards,
            "waivers": scores.waivers,
            "any_failing": any(card.failing for card in scores.cards),
            "default_expiry": default_expiry(now),
        },
    )


# --- pages ------------------------------------------------------------------------------------


def scorecards(request: HttpRequest) -> HttpResponse:
    dashboard = selectors.scorecard_dashboard()
    return render(
        request,
        "governance/scorecards.html",
        {
            "dashboard": dashboard,
            "boards": dashboard.boards,
            "can_govern": is_steward(request.user),
            "improved_days": selectors.IMPROVED_DAYS,
        },
    )


def scorecard_detail(request: HttpRequest, slug: str) -> HttpResponse:
    scorecard = _scorecard_or_404(slug)
    level = request.GET.get("level")
    page = selectors.scorecard_page(
        scorecard=scorecard,
        level=level if level is None else level.strip()[:50],
        page=request.GET.get("page"),
    )
    return render(
        request,
        "governance/scorecard_detail.html",
        {
            "scorecard": scorecard,
            "run": scorecard.last_run,
            "page": page,
            "level": level,
            "can_govern": is_steward(request.user),
        },
    )


@require_POST
def scorecard_run_now(request: HttpRequest, slug: str) -> HttpResponse:
    scorecard = _scorecard_or_404(slug)
    if denied := _stewards_only(request, "run a scorecard on demand"):
        return denied
    run = scorecard_run_request(
        scorecard=scorecard, requested_by=request.user.get_username(), via=Via.PORTAL
    )
    messages.success(request, f"Run #{run.pk} queued: the worker starts it within a minute.")
    return redirect(run.get_absolute_url())


def scorecard_run(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    run = selectors.run_get(slug=slug, pk=pk)
    if run is None:
        raise Http404(f"No run {pk} of scorecard {slug!r}.")
    diff = selectors.run_diff(run=run) if run.status == ScorecardRun.Status.DONE else None
    took = None
    if run.started_at and run.finished_at:
        took = (run.finished_at - run.started_at).total_seconds()
    return render(
        request,
        "governance/scorecard_run.html",
        {
            "run": run,
            "scorecard": run.scorecard,
            "diff": diff,
            "took": took,
            "shown": selectors.DIFF_SHOWN,
        },
    )


# --- previewing and saving a change -----------------------------------------------------------


def definition_yaml(definition: Definition) -> str:
    data = {k: v for k, v in definition.to_dict().items() if v not in ("", {}, None)}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def definition_read(text: str, scorecard: Scorecard) -> Definition:
    """The definition in ``text`` (YAML), for ``scorecard``: its slug cannot change here.
    Raises :class:`DefinitionError` with the path (or line) of every problem."""
    try:
        data = yaml_load(text)
    except yaml.YAMLError as exc:  # a syntax error (with its line), or loading.YAMLRefused
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "/"
        raise DefinitionError([(where, str(getattr(exc, "problem", None) or exc))]) from None
    if isinstance(data, dict):
        data.setdefault("slug", scorecard.slug)
        if slugify(str(data["slug"])) != scorecard.slug:
            message = f"stays {scorecard.slug!r} here; load another scorecard from a file"
            raise DefinitionError([("slug", message)])
    return definition_from_dict(data)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@require_http_methods(["GET", "POST"])
def scorecard_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """Edit the definition as YAML: ``preview`` scores every product with it, beside the
    saved one, and changes nothing; ``save`` saves what was previewed."""
    scorecard = _scorecard_or_404(slug)
    if denied := _stewards_only(request, "change a scorecard"):
        return denied
    current = Definition.from_model(scorecard)
    context: dict[str, Any] = {"scorecard": scorecard, "text": definition_yaml(current)}
    if request.method == "GET":
        return render(request, "governance/scorecard_preview.html", context)
    form = PreviewForm(request.POST)
    if not form.is_valid():
        context["problems"] = form_errors(form)
        return render(request, "governance/scorecard_preview.html", context, status=400)
    text = form.cleaned_data["definition"].replace("\r\n", "\n")
    context["text"] = text
    try:
        definition = definition_read(text, scorecard)
    except DefinitionError as exc:
        context["problems"] = exc.errors
        return render(request, "governance/scorecard_preview.html", context, status=400)
    if form.cleaned_data["action"] == "save":
        if form.cleaned_data["previewed"] == digest(text):
            scorecard_save(
                definition=definition,
                actor=request.user.get_username(),
                via=Via.PORTAL,
                source=Scorecard.Source.ADMIN,
            )
            messages.success(request, "Saved: the next run scores the products with it.")
            return redirect(scorecard)
        context["stale"] = True
    return _preview(request, scorecard, current, definition, context | {"digest": digest(text)})


def _preview(
    request: HttpRequest,
    scorecard: Scorecard,
    current: Definition,
    definition: Definition,
    context: dict[str, Any],
) -> HttpResponse:
    dry = scorecard_dry_run(scorecard=scorecard, definition=definition)
    before, after = selectors.card_of(current), selectors.card_of(definition)
    changed = [
        {**row, "before": before.part(row["from"]), "after": after.part(row["to"])}
        for row in dry.changed[:CHANGED_SHOWN]
    ]
    failing = [(after.check(key), n) for key, n in dry.newly_failing.most_common()]
    return render(
        request,
        "governance/scorecard_preview.html",
        context
        | {
            "dry": dry,
            "sentences": dry.sentences(current, definition),
            "changed": changed,
            "newly_failing": failing,
            "unchanged": definition == current,
        },
    )


# --- waivers ----------------------------------------------------------------------------------


def waivers(request: HttpRequest) -> HttpResponse:
    """The queue: readable by anyone logged in; stewards decide."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    queue = selectors.waiver_queue(now=timezone.now())
    return render(
        request,
        "governance/waivers.html",
        {"queue": queue, "can_govern": is_steward(request.user)},
    )


@require_http_methods(["GET", "POST"])
def waiver_request_view(request: HttpRequest) -> HttpResponse:
    """A product's owner (or a steward) asks for a waiver of one check."""
    data = request.POST if request.method == "POST" else request.GET
    product = DataProduct.objects.filter(external_id=data.get("product", "")[:255]).first()
    if product is None:
        raise Http404("No such data product.")
    if not selectors.may_request_waiver(request.user, product):
        message = "Only the product's owners and stewards may ask for a waiver of its checks."
        return deny(request, message)
    slug = data.get("scorecard", "")[:100]
    scorecard = _scorecard_or_404(slug) if slug else None  # none named: every scorecard
    initial = {"expires_at": default_expiry(timezone.now())}
    form = WaiverRequestForm(request.POST if request.method == "POST" else None, initial=initial)
    key = str(data.get("check", ""))
    context: dict[str, Any] = {"product": product, "scorecard": scorecard, "form": form, "key": key}
    if scorecard is not None:
        context["check"] = selectors.card_of(Definition.from_model(scorecard)).check(key)
    if request.method == "GET":
        return render(request, "governance/waiver_request.html", context)
    if problems := _ask(request, product, scorecard, form):
        context["problems"] = problems
        return render(request, "governance/waiver_request.html", context, status=400)
    messages.success(request, "Waiver requested: a steward decides it from the waiver queue.")
    where = f"#check-{scorecard.slug}-{key}" if scorecard else "#scorecards"
    return redirect(product.get_absolute_url() + where)


def _ask(
    request: HttpRequest,
    product: DataProduct,
    scorecard: Scorecard | None,
    form: WaiverRequestForm,
) -> list[tuple[str, str]]:
    """Request the waiver the form describes; its problems, by field, when it cannot be."""
    if not form.is_valid():
        return form_errors(form)
    try:
        waiver_request(
            product=product,
            scorecard=scorecard,
            check_key=form.cleaned_data["check"],
            justification=form.cleaned_data["justification"],
            expires_at=end_of(form.cleaned_data["expires_at"]),
            actor=request.user.get_username(),
            via=Via.PORTAL,
        )
    except WaiverError as exc:
        return [(exc.field, str(exc))]
    return []


def _waiver_or_404(pk: int) -> Waiver:
    waiver = Waiver.objects.select_related("product").filter(pk=pk).first()
    if waiver is None:
        raise Http404(f"No waiver {pk}.")
    return waiver


@require_POST
def waiver_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    waiver = _waiver_or_404(pk)
    if denied := _stewards_only(request, "decide waivers"):
        return denied
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _back(request, "Nothing decided", form_errors(form))
    approve = form.cleaned_data["decision"] == "approve"
    expires_on = form.cleaned_data["expires_at"]
    try:
        decided = waiver_decide(
            waiver=waiver,
            approve=approve,
            actor=request.user.get_username(),
            note=form.cleaned_data["note"].strip(),
            expires_at=end_of(expires_on) if approve and expires_on else None,
            via=Via.PORTAL,
        )
    except WaiverError as exc:
        return _back(request, "Nothing decided", [(exc.field, str(exc))])
    what = f"approved until {decided.expires_at:%Y-%m-%d}" if approve else "denied"
    messages.success(request, f"Waiver of {waiver.check_key} for {waiver.product} {what}.")
    return redirect("governance:waivers")


@require_POST
def waiver_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    waiver = _waiver_or_404(pk)
    if denied := _stewards_only(request, "revoke waivers"):
        return denied
    form = RevokeForm(request.POST)
    if not form.is_valid():
        return _back(request, "Not revoked", form_errors(form))
    try:
        waiver_revoke(
            waiver=waiver,
            actor=request.user.get_username(),
            note=form.cleaned_data["note"],
            via=Via.PORTAL,
        )
    except WaiverError as exc:
        return _back(request, "Not revoked", [(exc.field, str(exc))])
    messages.success(request, f"Waiver of {waiver.check_key} for {waiver.product} revoked.")
    return redirect("governance:waivers")


def _back(request: HttpRequest, what: str, problems: list[tuple[str, str]]) -> HttpResponse:
    for name, message in problems:
        messages.error(request, f"{what}: {name.replace('_', ' ')}: {message}")
    return redirect(reverse("governance:waivers"))
