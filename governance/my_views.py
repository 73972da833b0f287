""" "My data": what a logged-in user owns, what they read, and what needs their attention."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from catalog.models import DataProduct, Port
from catalog.ownership_selectors import Owned, owned_by
from catalog.roles import grant_of
from governance.models import BURNING, Slo, SloState


@dataclass
class Attention:
    """What needs the user: their SLOs breached or burning, and breaches upstream."""

    breached: list[Slo] = field(default_factory=list)
    burning: list[Slo] = field(default_factory=list)
    upstream: list[Slo] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.breached or self.burning or self.upstream)


def consumed_products(products: list[DataProduct]) -> QuerySet[DataProduct]:
    """The products that the given ones read through their input ports: named by id, or
    through the contract of another product's output port."""
    inputs = Port.objects.filter(product__in=products, direction=Port.Direction.INPUT)
    by_id = inputs.exclude(source_product="").values("source_product")
    contracts = inputs.exclude(contract_external_id="").values("contract_external_id")
    feeding = Port.objects.filter(
        direction=Port.Direction.OUTPUT, contract_external_id__in=contracts
    ).values("product_id")
    return (
        DataProduct.objects.filter(Q(external_id__in=by_id) | Q(pk__in=feeding))
        .exclude(pk__in=[p.pk for p in products])
        .select_related("domain")
        .order_by("name")
    )


def attention(mine: list[DataProduct], read: list[DataProduct]) -> Attention:
    slos = Slo.objects.enabled().select_related("product")
    own = list(slos.filter(product__in=mine).order_by("state_since"))
    upstream = slos.filter(product__in=read, state=SloState.BREACHED).order_by("state_since")
    return Attention(
        breached=[s for s in own if s.state == SloState.BREACHED],
        burning=[
            s for s in own if s.state != SloState.BREACHED and (s.burn_rate_1d or 0) > BURNING
        ],
        upstream=list(upstream),
    )


def _context(owned: Owned, user: Any) -> dict[str, Any]:
    mine = [item.target for item in owned.products]
    read = list(consumed_products(mine))
    grant = grant_of(user)
    editable = {product.pk for product in mine if grant.allows_product(product)}
    return {
        "owned": owned,
        "consumed": read,
        "attention": attention(mine, read),
        "editable": editable,
    }


@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    context = _context(owned_by(request.user), request.user)
    return render(request, "governance/my_data.html", context)
