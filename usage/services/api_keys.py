"""API keys of the usage JSON endpoints: the one place where keys are made and revoked.

The page for tenant admins, Django admin (support staff) and `manage.py create_usage_token` all
come here. A key is shown once, to whoever made it; only its prefix and SHA-256 are stored, so a
lost key cannot be shown again: it is revoked and a new one made.
"""

import hashlib
import logging
import secrets

from django.core.exceptions import ValidationError
from django.utils import timezone

from ..models import ApiToken
from ..selectors import organization_keys

logger = logging.getLogger(__name__)

KEY_PREFIX = "ccu_"
NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


def hash_key(key: str) -> str:
    """What is stored of a key, and what a request's key is looked up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key():
    """(key, prefix, hash): the key is shown once; only its prefix and SHA-256 are stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hash_key(key)


def clean_key_name(name) -> str:
    """The name as stored; ValidationError when it is blank or too long (the command has no form)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the key a name, e.g. what will use it.", code="required")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            f"The name is {len(name)} characters; use {NAME_MAX_LENGTH} or fewer.", code="max_length"
        )
    return name


def create_api_key(*, organization, name, actor=None):
    """(token, key): the key is returned here and never again."""
    key, prefix, digest = new_key()
    token = ApiToken.objects.create(
        organization=organization, name=clean_key_name(name), prefix=prefix, key_hash=digest, created_by=actor
    )
    logger.info("Usage API key %s… created for organization %s by %s", prefix, organization.pk, getattr(actor, "pk", None))
    return token, key


def revoke_api_key(*, organization, token_id, actor=None):
    """(token, newly_revoked). Idempotent: revoking a revoked key keeps its first revocation time.

    Raises ApiToken.DoesNotExist for a key that is not the organization's."""
    # The update is conditional, so two revocations at once cannot both move revoked_at.
    newly_revoked = bool(
        organization_keys(organization)
        .filter(pk=token_id, revoked_at__isnull=True)
        .update(revoked_at=timezone.now())
    )
    token = organization_keys(organization).get(pk=token_id)
    if newly_revoked:
        logger.info("Usage API key %s… of organization %s revoked by %s", token.prefix, organization.pk, getattr(actor, "pk", None))
    return token, newly_revoked
