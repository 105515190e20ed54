"""The names of the promises the policy page can state (the registry says how each is kept)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class PromiseId(StrEnum):
    """One promise of the published page; every behavioural sentence carries one."""

    versions_kept = "versions_kept"
    knowing_collection = "knowing_collection"
    storage_rules = "storage_rules"
    purpose_bound_reads = "purpose_bound_reads"
    announced_recipients = "announced_recipients"
    recipient_purposes = "recipient_purposes"
    never_sold = "never_sold"
    legal_disclosures = "legal_disclosures"
    legal_four_eyes = "legal_four_eyes"
    analytics_off = "analytics_off"
    analytics_cookieless = "analytics_cookieless"
    analytics_scrubbing = "analytics_scrubbing"
    analytics_retention = "analytics_retention"
    one_click_unsubscribe = "one_click_unsubscribe"
    parental_consent = "parental_consent"
    age_gate = "age_gate"
    cookies_declared = "cookies_declared"
    cookie_refusal = "cookie_refusal"
    global_privacy_control = "global_privacy_control"
    tls = "tls"
    password_hashing = "password_hashing"
    encryption_at_rest = "encryption_at_rest"
    staff_mfa = "staff_mfa"
    internal_review = "internal_review"
    physical_security = "physical_security"
    staff_need_to_know = "staff_need_to_know"
    service_roles = "service_roles"
    contractor_expiry = "contractor_expiry"
    break_glass = "break_glass"
    confidentiality_contract = "confidentiality_contract"
    confidentiality_acknowledged = "confidentiality_acknowledged"
    retention = "retention"
    change_posting = "change_posting"
    change_notice_period = "change_notice_period"
    change_notice_email = "change_notice_email"
    change_notice_banner = "change_notice_banner"
    acceptance_recorded = "acceptance_recorded"
    material_change_consent = "material_change_consent"
    privacy_center = "privacy_center"
    requests_answered = "requests_answered"


INFO: Literal["info"] = "info"
# What a block of the page is: a promise (kept by a registered mechanism) or information.
Tag = PromiseId | Literal["info"]
