"""Bearer-token authentication and scope checks for machine clients."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from catalog.models import ApiToken
from catalog.roles import is_admin, is_steward
from meshport.prepared import select_where

# Recording every use would turn each read into a write; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)
# Each use and each refusal, by name and prefix (never the secret), for whoever reads logs.
log = logging.getLogger("meshport.tokens")


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <secret>``, as openlineage-python's ``api_key`` auth sends."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, secret = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("Authorization header has no token.")
        # A prepared read: every ingest POST comes through here, and compiling the
        # queryset cost more than the indexed lookup.
        found = select_where(ApiToken, {"hashed_secret": [ApiToken.hash_secret(secret)]})
        token = found[0] if found else None
        if token is None:
            log.warning("unknown token %s refused: %s", _prefix(secret), _where(request))
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.is_active:
            log.warning("inactive token %s refused: %s", token, _where(request))
            raise exceptions.AuthenticationFailed("Token is revoked or expired.")
        log.info("token %s used: %s", token, _where(request))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return (token.created_by or AnonymousUser()), token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="meshport"'


def _prefix(secret: str) -> str:
    """The identifying prefix of a secret shaped like ours (``mp_<prefix>_…``), else "?"."""
    parts = secret.split("_")
    return parts[1][:16] if len(parts) >= 3 and parts[0] == "mp" else "?"


def _where(request: Request) -> str:
    return f"{request.method} {request.path} from {request.META.get('REMOTE_ADDR', '?')}"


def request_token(request: Request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


class HasScope(permissions.BasePermission):
    """Allows a token carrying ``scope``, or a logged-in user whom ``user_allowed`` lets
    through (see :mod:`catalog.roles`).

    ``anonymous_setting`` names a boolean in ``MESHPORT_LINEAGE`` that, when on, lets
    requests without credentials through (local demos only).
    """

    scope = ""
    anonymous_setting = ""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request_token(request)
        if token is not None:
            if not token.has_scope(self.scope):
                self.message = f"Token lacks the scope {self.scope!r}."
                return False
            return True
        if request.user and request.user.is_authenticated:
            if not self.user_allowed(request.user):
                self.message = self.user_message
                return False
            return True
        return bool(
            self.anonymous_setting and settings.MESHPORT_LINEAGE.get(self.anonymous_setting)
        )

    user_message = "You may not do this."

    def user_allowed(self, user: Any) -> bool:
        return False


class CanWriteLineage(HasScope):
    """Pipelines' tokens with ``lineage:write``, and administrators."""

    scope = "lineage:write"
    anonymous_setting = "ALLOW_ANONYMOUS_WRITE"
    user_message = "Only administrators post lineage as users; pipelines use a token."

    def user_allowed(self, user: Any) -> bool:
        return is_admin(user)


class CanWriteProducts(HasScope):
    """Tokens with ``products:write``, and users; both are held to their domains when
    registering (:mod:`catalog.roles`)."""

    scope = "products:write"

    def user_allowed(self, user: Any) -> bool:
        return bool(user.is_active)


class CanGovern(HasScope):
    """Stewards' writes (ownership, SLOs, scorecards, waivers, webhooks): tokens with
    ``governance:write``, and stewards."""

    scope = "governance:write"
    user_message = "Only stewards may do this: members of the “Stewards” group."

    def user_allowed(self, user: Any) -> bool:
        return is_steward(user)


def actor_name(request: Request) -> str:
    """Who a write is recorded as: the token's name, or the user's."""
    token = request_token(request)
    return token.name if token else request.user.get_username()
