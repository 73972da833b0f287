"""Ownership in the portal: the owners block of product, dataset and domain pages, the
stewards' add and remove forms behind it, and the team pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from catalog import ownership_selectors as owners
from catalog.models import OWNERSHIP_TARGETS, DataProduct, Dataset, Domain, Ownership, Team
from catalog.ownership import (
    ownership_add,
    ownership_remove,
    person_party,
    team_party,
)
from catalog.ownership_selectors import ownership_target_get
from catalog.views import PAGE_SIZE
from meshport.access import steward_required

# --- steward edits ----------------------------------------------------------------------------


class OwnershipForm(forms.Form):
    target_kind = forms.ChoiceField(choices=[(kind, kind) for kind in OWNERSHIP_TARGETS])
    target = forms.IntegerField(min_value=1)
    party_kind = forms.ChoiceField(choices=[("person", "Person"), ("team", "Team")])
    party = forms.CharField(max_length=255)
    role = forms.ChoiceField(choices=Ownership.Role.choices)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "target_kind" in data and "target" in data:
            data["target"] = ownership_target_get(kind=data["target_kind"], pk=data["target"])
            if data["target"] is None:
                self.add_error("target", "No such domain, product or dataset.")
        kind, name = data.get("party_kind"), data.get("party", "")
        if kind == "team" and name and not Team.objects.filter(name=name).exists():
            self.add_error("party", f"No team named “{name}”.")
        return data


def _invalid(request: HttpRequest, form: forms.Form) -> HttpResponse:
    """A 400 naming each bad field; back to the target's page when it was found."""
    errors = [f"{name}: {' '.join(map(str, errs))}" for name, errs in form.errors.items()]
    target = form.cleaned_data.get("target")
    back = ""
    if isinstance(target, Domain | DataProduct | Dataset):
        back = target.get_absolute_url() + "#owners"
    context = {"errors": errors, "back": back}
    return render(request, "catalog/ownership_invalid.html", context, status=400)


@require_POST
@steward_required("edit ownership")
def ownership_add_view(request: HttpRequest) -> HttpResponse:
    form = OwnershipForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    data = form.cleaned_data
    name = data["party"]
    party = team_party(name) if data["party_kind"] == "team" else person_party(name)
    ownership_add(
        target=data["target"],
        party=party,
        role=data["role"],
        source=Ownership.Source.PORTAL,
        actor=request.user.get_username(),
    )
    return redirect(data["target"].get_absolute_url() + "#owners")


@require_POST
@steward_required("edit ownership")
def ownership_remove_view(request: HttpRequest, pk: int) -> HttpResponse:
    row = owners.ownerships(Ownership.objects.filter(pk=pk)).first()
    if row is None:
        raise Http404("No such ownership.")
    target = row.target
    ownership_remove(
        ownership=row, source=Ownership.Source.PORTAL, actor=request.user.get_username()
    )
    return redirect(target.get_absolute_url() + "#owners")


# --- teams ------------------------------------------------------------------------------------


def teams(request: HttpRequest) -> HttpResponse:
    page = Paginator(owners.team_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "catalog/teams.html", {"page": page})


def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    team = owners.team_get(pk=pk)
    if team is None:
        raise Http404("No such team.")
    context = {
        "team": team,
        "members": owners.team_members(team),
        "owned": owners.owned_by_team(team),
    }
    return render(request, "catalog/team_detail.html", context)
