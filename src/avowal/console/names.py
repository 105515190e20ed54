"""Name the policy's keys as people read them: purposes, data categories, roles, fields, points.

The console shows these names first and keeps the raw key as secondary text (a muted ``<code>``
or a ``title``) where staff need it. A key the policy no longer declares is shown as itself.
:func:`register` makes each function a Jinja filter of the console's templates.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from avowal.lib import person_pages
from avowal.policy.loader import LoadedPolicy


def purpose(policy: LoadedPolicy, key: str) -> str:
    """Name a purpose: the policy's own description, else fideslang's name of the data use.

    The one rule of the pages people read (:func:`avowal.lib.person_pages.purpose_label`).
    """
    return person_pages.purpose_label(policy, key)


def category(policy: LoadedPolicy, key: str) -> str:
    """Name a data category as fideslang does (the name the collection notices show)."""
    return policy.taxonomy.label("data_categories", key)


def role(policy: LoadedPolicy, key: str) -> str:
    """Name a staff role by its title in the policy."""
    found = policy.policy.staff.roles.get(key)
    return found.title if found is not None else key


def point(policy: LoadedPolicy, key: str) -> str:
    """Name a collection point by its title in the policy."""
    found = policy.policy.collection_points.get(key)
    return found.title if found is not None else key


def field_label(policy: LoadedPolicy, name: str, at: str | None = None) -> str:
    """Name a field by its label at the point ``at``, else by the first point declaring it."""
    points = policy.policy.collection_points
    order = [points[at]] if at in points else []
    for cp in [*order, *points.values()]:
        spec = cp.fields.get(name)
        if spec is not None:
            return spec.label or name
    return name


def _policy_of(context: Context) -> LoadedPolicy | None:
    """Return the policy a console template is rendered under: the signed-in member's."""
    given = context.get("policy")
    if isinstance(given, LoadedPolicy):
        return given
    staff = context.get("staff")
    found = getattr(staff, "policy", None)
    return found if isinstance(found, LoadedPolicy) else None


def register(env: Environment) -> None:
    """Add the filters ``purpose_name``, ``category_name``, ``role_title``, ``point_title`` and
    ``field_label`` to ``env``; each names a key under the template's policy (``policy`` in the
    context, else ``staff.policy``), or leaves it as it is when there is none."""

    def filter_of(name_of: Any) -> Any:
        @pass_context
        def named(context: Context, key: str, *args: Any) -> str:
            policy = _policy_of(context)
            return key if policy is None else str(name_of(policy, key, *args))

        return named

    env.filters.update(
        purpose_name=filter_of(purpose),
        category_name=filter_of(category),
        role_title=filter_of(role),
        point_title=filter_of(point),
        field_label=filter_of(field_label),
    )
