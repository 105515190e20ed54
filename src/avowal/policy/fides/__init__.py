"""The bridge to Fides (ethyca's open-source privacy tool), both ways, in fideslang's own models.

**Export**: a policy becomes a Fides manifest, the YAML the ``fides`` command line reads:

- the organisation's ``System``, with one privacy declaration per purpose that some collection
  point collects for (its data categories and subjects, the recipients announced there as
  ``egress``, ``third_parties`` and ``shared_categories``, the retention rules that apply as
  ``retention_period``);
- one ``System`` per recipient, receiving from it (``ingress``), declared for the recipient's
  purposes and categories;
- a ``Dataset`` of what the policy collects: one collection per collection point (subjects,
  purposes), one field per field (its data category, the purposes of that field only);
- the policy's own taxonomy keys as ``data_category``, ``data_use`` and ``data_subject``.

**Import**: a Fides manifest, checked with fideslang's models, becomes a *starter* policy. What
Fides knows is carried over; what it does not know (the words of the notices, how the vault
stores each value, which recipients each notice announces, a recipient's kind and country, the
staff, the notice period of changes...)
is left as a gap: an empty value marked ``# FILL IN:``, which ``avowal policy check`` reports
until someone fills it in. :class:`Starter` lists the gaps as the check names them.
"""

from avowal.policy.fides.common import GAP_MARK, name_of
from avowal.policy.fides.export import export_manifest, manifest_yaml
from avowal.policy.fides.manifest import (
    Manifest,
    ManifestInvalid,
    check_manifest,
    choose_system,
    load_manifest,
    parse_manifest,
)
from avowal.policy.fides.starter import Gap, Starter, starter_policy

__all__ = [
    "GAP_MARK",
    "Gap",
    "Manifest",
    "ManifestInvalid",
    "Starter",
    "check_manifest",
    "choose_system",
    "export_manifest",
    "load_manifest",
    "manifest_yaml",
    "name_of",
    "parse_manifest",
    "starter_policy",
]
