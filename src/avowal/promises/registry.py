"""Every promise the policy page can state: the mechanism that keeps it, the tests that prove it.

Declared once, as a table; the page, `avowal promises`, the production check, the evidence lines
and the internal review all iterate it. A promise is kept by software (``enforced``: a mechanism
and its tests) or by people (``organisational``: attested in the internal review).
"""

from __future__ import annotations

from collections.abc import Mapping

from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import StaffKind
from avowal.promises import evidence as ev
from avowal.promises.conditions import (
    always,
    announces_recipients,
    contact_form,
    four_eyes,
    knowing,
    needs_mail,
    needs_parent_by_mail,
    needs_tls,
    people_kinds,
    posting,
    refusable_cookies,
    writes_news,
)
from avowal.promises.ids import PromiseId as P
from avowal.promises.promise import Kind, Promise

E, O = Kind.enforced, Kind.organisational  # noqa: E741
# Organisational measures are kept by people; the mechanism is their attestation.
ATTEST_MECHANISM = "avowal.promises.service.attest"

# Mechanisms registered before they are built; the registry test skips importing only these
# (they may have no test yet). Empty: every registered mechanism imports.
PENDING: frozenset[str] = frozenset()

VAULT = "tests/integration/vault"
LEGAL = "tests/integration/legal/test_legal_requests.py"
SIGNIN = "tests/integration/staff/test_staff_signin.py"
ANALYTICS = "tests/integration/analytics"
LIFECYCLE = "tests/integration/lifecycle"
CONSENT = "tests/integration/consent"
BANNER = "tests/browser/test_banner.py"
CHILDREN = "tests/integration/children/test_parental_consent.py"
RETENTION = f"{VAULT}/test_retention.py"
NEWS = "tests/integration/mail/test_news.py"
CENTER = "tests/integration/rights/test_privacy_center.py"
CASES = "tests/integration/rights/test_cases.py"
ATTESTED = ("tests/integration/promises/test_ledger.py::test_attest_records_audits_and_refuses",)


PROMISES = (
    Promise(
        P.versions_kept,
        "every version is kept with its effective date",
        "changes",
        E,
        always,
        "avowal.lifecycle.versions.history",
        (
            "tests/integration/db/test_migrations.py::test_app_records_policy_version_on_startup",
            f"{LIFECYCLE}/test_diff_pages.py::test_versions_page_lists_each_with_state_and_links",
            f"{LIFECYCLE}/test_diff_pages.py::test_diff_page_flags_and_explains_material_changes",
            f"{LIFECYCLE}/test_publish.py::test_the_served_page_shows_the_version_in_effect_and_the_announced_one",
        ),
    ),
    Promise(
        P.knowing_collection,
        "personal data only through declared forms; unknown fields refused",
        "collection",
        E,
        knowing,
        "avowal.vault.collection.collect",
        (
            f"{VAULT}/test_collection.py::test_bad_values_are_refused_and_nothing_is_stored",
            f"{VAULT}/test_collection.py::test_unknown_point_is_404",
        ),
    ),
    Promise(
        P.storage_rules,
        "each field kept only as the policy says (in full, last 4, hashed, not at all)",
        "collection",
        E,
        lambda lp: bool(lp.policy.collection_points),
        "avowal.vault.collection.collect",
        (f"{VAULT}/test_collection.py::test_storage_rules_keep_only_what_the_policy_says",),
    ),
    Promise(
        P.purpose_bound_reads,
        "data is read only for the purposes it was collected for",
        "collection",
        E,
        always,
        "avowal.vault.access.read",
        (
            f"{VAULT}/test_access.py::test_read_returns_only_values_collected_for_the_purpose",
            f"{VAULT}/test_enforcement.py::"
            "test_a_value_collected_for_a_child_purpose_is_withheld_for_its_parent",
        ),
    ),
    Promise(
        P.announced_recipients,
        "disclosure only to recipients announced before collection",
        "recipients",
        E,
        announces_recipients,
        "avowal.vault.access.disclose",
        (
            f"{VAULT}/test_access.py::"
            "test_disclosure_of_values_whose_notice_did_not_announce_the_recipient_is_403",
            f"{VAULT}/test_access.py::test_disclosure_to_an_undeclared_recipient_is_refused",
        ),
        evidence=ev.disclosures,
    ),
    Promise(
        P.recipient_purposes,
        "a recipient gets data only for its declared purposes and categories",
        "recipients",
        E,
        lambda lp: any(r.purposes for r in lp.policy.recipients.values()),
        "avowal.vault.access.disclose",
        (
            f"{VAULT}/test_enforcement.py::"
            "test_a_purpose_the_recipient_is_not_declared_for_is_403_naming_it",
        ),
    ),
    Promise(
        P.never_sold,
        "never shared, rented or sold",
        "recipients",
        E,
        lambda lp: lp.policy.commitments.never_sold,
        "avowal.policy.checks.check",
        (
            "tests/unit/test_policy_check.py::test_sale_or_sharing_recipient_breaks_never_sold",
            "tests/unit/test_policy_check.py::test_sharing_use_breaks_never_sold",
        ),
        evidence=ev.never_sold,
    ),
    Promise(
        P.legal_disclosures,
        "disclosures by law only on the grounds and to the authorities named",
        "legal-disclosures",
        E,
        always,
        "avowal.legal.service.create_request",
        (
            f"{LEGAL}::test_a_request_goes_only_to_an_authority_the_policy_names",
            f"{LEGAL}::test_a_policy_reserving_no_legal_disclosure_refuses_every_request",
        ),
        evidence=ev.legal_requests,
    ),
    Promise(
        P.legal_four_eyes,
        "a second privacy officer approves each legal disclosure",
        "legal-disclosures",
        E,
        four_eyes,
        "avowal.legal.service.approve",
        (
            f"{LEGAL}::test_the_requester_can_neither_approve_nor_reject_their_own_request",
            f"{LEGAL}::test_nothing_is_exported_before_approval_or_after_rejection",
        ),
    ),
    Promise(
        P.analytics_off,
        "no page analytics",
        "analytics",
        E,
        lambda lp: not lp.policy.analytics.enabled,
        "avowal.analytics.sites.sync_policy_sites",
        (f"{ANALYTICS}/test_sites_race.py::test_two_starts_at_once_record_each_policy_site_once",),
    ),
    Promise(
        P.analytics_cookieless,
        "cookie-less analytics; salts destroyed after 48 hours",
        "analytics",
        E,
        lambda lp: lp.policy.analytics.enabled and lp.policy.analytics.cookieless,
        "avowal.analytics.salts.destroy_expired",
        (
            f"{ANALYTICS}/test_ingest.py::test_salts_are_destroyed_48_hours_after_their_day_began",
            f"{ANALYTICS}/test_ingest.py::test_no_ip_and_no_user_agent_anywhere",
        ),
        evidence=ev.salts,
    ),
    Promise(
        P.analytics_scrubbing,
        "identifiers removed from page addresses",
        "analytics",
        E,
        lambda lp: lp.policy.analytics.enabled,
        "avowal.analytics.scrub.scrub_path",
        (
            f"{ANALYTICS}/test_ingest.py::"
            "test_identifiers_in_paths_and_props_are_scrubbed_and_counted",
        ),
    ),
    Promise(
        P.analytics_retention,
        "raw page visits purged after the stated days",
        "analytics",
        E,
        lambda lp: lp.policy.analytics.enabled,
        "avowal.analytics.worker.purge",
        (
            f"{ANALYTICS}/test_rollup.py::"
            "test_worker_rolls_pending_days_then_purges_raw_events_and_keeps_rollups",
        ),
    ),
    Promise(
        P.one_click_unsubscribe,
        "one-click unsubscribe from news",
        "communications",
        E,
        writes_news,
        "avowal.mail.news.send",
        (
            f"{NEWS}::test_news_reaches_only_those_who_agreed_and_one_click_unsubscribes",
            f"{NEWS}::test_the_unsubscribe_page_records_an_objection_and_forged_links_open_nothing",
        ),
        needs=needs_mail,
    ),
    Promise(
        P.parental_consent,
        "a minor's data stays locked until a parent agrees",
        "children",
        E,
        lambda lp: lp.policy.children is not None,
        "avowal.children.lock.lock_of",
        (
            f"{CHILDREN}::test_the_whole_flow_locks_then_opens_for_the_consented_purposes_only",
            f"{CHILDREN}::test_a_refusal_erases_everything_at_once",
            f"{CHILDREN}::test_silence_expires_and_erases",
            f"{CHILDREN}::test_forged_links_open_nothing",
        ),
        needs=needs_parent_by_mail,
    ),
    Promise(
        P.age_gate,
        "forms check age against the children threshold",
        "children",
        E,
        lambda lp: lp.policy.children is not None and bool(lp.policy.collection_points),
        "avowal.children.gate.gate",
        (
            f"{CHILDREN}::test_an_adult_passes_straight_through",
            f"{CHILDREN}::test_a_minor_needs_a_parent_and_the_current_parent_notice",
            f"{CHILDREN}::"
            "test_a_declared_minor_needs_a_parent_and_an_adults_only_form_refuses_them",
        ),
    ),
    Promise(
        P.cookies_declared,
        "the site sets only the cookies declared (the scanner gates it; the middleware drops "
        "the server's unconsented ones)",
        "cookies",
        E,
        always,
        "avowal.consent.scan.scan",
        (
            "tests/browser/test_cookie_scan.py::test_undeclared_cookies_and_storage_keys_fail_the_scan",
            "tests/browser/test_cookie_scan.py::test_before_consent_after_rejection_and_http_only_cookies_are_found",
            "tests/browser/test_site_cookies_middleware.py::test_the_site_server_sets_only_consented_cookies",
        ),
        evidence=ev.cookie_scan,
    ),
    Promise(
        P.cookie_refusal,
        "cookies may be refused category by category",
        "cookies",
        E,
        refusable_cookies,
        "avowal.consent.service.record",
        (
            f"{CONSENT}/test_choices.py::test_a_choice_is_recorded_with_a_verifiable_receipt",
            f"{CONSENT}/test_choices.py::test_categories_the_banner_does_not_offer_are_refused",
            f"{BANNER}::test_reject_all_is_recorded_and_nothing_runs",
            f"{BANNER}::test_per_category_choice_and_withdrawal_deletes_cookies",
        ),
    ),
    Promise(
        P.global_privacy_control,
        "Global Privacy Control honoured",
        "cookies",
        E,
        lambda lp: bool(lp.policy.cookies) and lp.policy.cookie_rules.honour_global_privacy_control,
        "avowal.consent.service.record",
        (
            f"{CONSENT}/test_choices.py::test_gpc_turns_advertising_off_and_is_recorded",
            f"{CONSENT}/test_choices.py::"
            "test_a_choice_made_for_gpc_never_turns_an_earlier_refusal_back_on",
            f"{CONSENT}/test_banner.py::test_gpc_json_says_since_when_and_only_when_honoured",
            f"{BANNER}::test_navigator_gpc_turns_advertising_off_and_is_recorded",
            f"{BANNER}::test_sec_gpc_header_keeps_advertising_off",
        ),
    ),
    Promise(
        P.tls,
        "passwords and personal data only over TLS",
        "security",
        E,
        lambda lp: lp.policy.security.tls_required,
        "avowal.lib.security.TLSRequired",
        (
            "tests/integration/web/test_security.py::"
            "test_credentials_over_plain_http_are_refused_and_nothing_is_processed",
            "tests/integration/web/test_security.py::"
            "test_create_app_refuses_production_without_tls_or_a_trusted_proxy",
        ),
        needs=needs_tls,
    ),
    Promise(
        P.password_hashing,
        "Argon2id password hashes; minimum length and common passwords refused",
        "security",
        E,
        always,
        "avowal.staff.passwords.hash_password",
        (
            "tests/unit/test_passwords.py::test_hashes_are_argon2id_and_verify",
            "tests/unit/test_passwords.py::test_the_policy_minimum_applies",
            "tests/unit/test_passwords.py::test_common_passwords_are_refused",
        ),
    ),
    Promise(
        P.encryption_at_rest,
        "encrypted at rest with a key per person, shredded on erasure",
        "security",
        E,
        lambda lp: lp.policy.security.encryption_at_rest,
        "avowal.vault.erasure.erase",
        (
            f"{VAULT}/test_collection.py::test_collect_stores_encrypted_values_and_returns_a_receipt",
            f"{VAULT}/test_access.py::"
            "test_erasure_shreds_the_key_and_the_index_and_later_reads_are_410",
        ),
    ),
    Promise(
        P.staff_mfa,
        "staff who see personal data sign in with a second factor",
        "security",
        E,
        lambda lp: lp.policy.security.mfa_for_personal_data,
        "avowal.staff.signin.sign_in",
        (
            f"{SIGNIN}::test_the_right_password_and_code_open_a_session",
            f"{SIGNIN}::test_wrong_password_wrong_code_and_unknown_email_get_the_same_answer",
        ),
    ),
    Promise(
        P.internal_review,
        "internal reviews at the stated interval",
        "security",
        O,
        always,
        ATTEST_MECHANISM,
        ATTESTED,
        evidence=ev.audit_chain,
    ),
    Promise(
        P.physical_security,
        "physical security of the premises",
        "security",
        O,
        lambda lp: bool(lp.policy.security.physical_security),
        ATTEST_MECHANISM,
        ATTESTED,
    ),
    Promise(
        P.staff_need_to_know,
        "staff see only what their role's purposes allow",
        "staff-access",
        E,
        lambda lp: lp.policy.commitments.staff_need_to_know or bool(people_kinds(lp)),
        "avowal.staff.service.caller",
        (
            "tests/integration/console/test_people.py::"
            "test_a_purpose_the_role_does_not_grant_is_refused_and_the_refusal_audited",
            "tests/integration/console/test_people.py::"
            "test_marketing_sees_only_the_address_given_for_its_purpose",
        ),
    ),
    Promise(
        P.service_roles,
        "the site's own systems read within their role's purposes",
        "staff-access",
        E,
        lambda lp: any(r.service for r in lp.policy.staff.roles.values()),
        "avowal.callers.service.authenticate",
        (f"{VAULT}/test_access.py::test_a_purpose_the_role_does_not_grant_is_403_and_audited",),
    ),
    Promise(
        P.contractor_expiry,
        "contractors' and agents' access expires",
        "staff-access",
        E,
        lambda lp: bool(people_kinds(lp) & {StaffKind.contractor, StaffKind.agent}),
        "avowal.staff.service.add",
        (
            "tests/integration/staff/test_staff_cli.py::"
            "test_list_shows_state_expiry_and_acknowledged_version",
            f"{SIGNIN}::test_disabled_and_expired_accounts_cannot_sign_in",
        ),
    ),
    Promise(
        P.break_glass,
        "time-boxed emergency access, recorded and flagged",
        "staff-access",
        E,
        lambda lp: bool(lp.policy.staff.break_glass.roles),
        "avowal.legal.break_glass.start",
        (
            "tests/integration/legal/test_break_glass.py::"
            "test_a_grant_reads_for_any_purpose_and_flags_every_entry",
            "tests/integration/legal/test_break_glass.py::test_a_grant_is_refused_after_it_expires",
        ),
    ),
    Promise(
        P.confidentiality_contract,
        "staff are bound by confidentiality obligations (their contracts)",
        "staff-access",
        O,
        always,
        ATTEST_MECHANISM,
        ATTESTED,
    ),
    Promise(
        P.confidentiality_acknowledged,
        "the confidentiality agreement is accepted before any access",
        "staff-access",
        E,
        always,
        "avowal.staff.service.must_acknowledge",
        (
            "tests/integration/staff/test_staff_access.py::"
            "test_access_needs_the_acknowledgement_of_the_agreement",
            "tests/integration/staff/test_staff_access.py::"
            "test_a_new_agreement_version_needs_a_new_acknowledgement_and_a_gone_role_no_access",
        ),
        evidence=ev.acknowledgements,
    ),
    Promise(
        P.retention,
        "personal data erased when its retention rule says",
        "retention",
        E,
        lambda lp: bool(lp.policy.retention),
        "avowal.vault.retention.run",
        (
            f"{RETENTION}::test_the_card_goes_exactly_730_days_after_collection_and_nothing_else",
            f"{RETENTION}::test_marketing_goes_after_two_years_without_activity_not_after_a_sign_in",
            f"{RETENTION}::test_after_closure_and_a_year_the_essential_values_go",
            f"{RETENTION}::test_a_shortened_period_in_a_new_version_applies_to_held_values",
            f"{RETENTION}::test_destroyed_values_leave_no_trace_and_kept_ones_stay_readable",
        ),
        evidence=ev.retention,
    ),
    Promise(
        P.privacy_center,
        "a person sees, downloads, corrects, withdraws, objects and erases in the privacy center",
        "your-rights",
        E,
        lambda lp: lp.policy.commitments.privacy_center,
        "avowal.rights.routes.center",
        (
            f"{CENTER}::test_the_request_answers_the_same_for_a_known_and_an_unknown_address",
            f"{CENTER}::test_a_link_works_once_an_expired_one_is_410_and_a_forged_one_404",
            f"{CENTER}::test_the_export_is_everything_held_decrypted_with_receipts_that_verify",
            f"{CENTER}::test_a_person_asking_for_someone_elses_data_gets_404_and_nothing_changes",
            f"{CENTER}::test_a_withdrawal_withholds_the_very_next_read_for_the_purpose",
            f"{CENTER}::test_a_correction_destroys_the_old_value_and_issues_a_new_receipt",
            f"{CENTER}::test_an_objection_is_recorded_via_the_center",
            f"{CENTER}::test_erasure_needs_the_typed_word_then_shreds_and_mails_the_confirmation",
            "tests/browser/test_privacy_center.py::"
            "test_a_person_signs_in_by_mail_sees_downloads_changes_and_erases_their_data",
        ),
        needs=needs_mail,
    ),
    Promise(
        P.requests_answered,
        "questions and requests answered within a month, or told why within it",
        "your-rights",
        E,
        contact_form,
        "avowal.rights.cases.open_case",
        (
            f"{CASES}::test_the_contact_form_opens_a_case_due_a_month_later_and_acknowledges_it",
            f"{CASES}::test_a_case_is_extended_once_by_at_most_two_months_with_a_reason",
            f"{CASES}::test_overdue_cases_are_in_the_review_and_the_metrics",
            "tests/browser/test_cases_console.py::"
            "test_an_erasure_request_is_checked_carried_out_and_answered",
        ),
        needs=needs_mail,
    ),
    Promise(
        P.change_posting,
        "changes are posted on this page",
        "changes",
        E,
        posting,
        "avowal.policy.routes.get_privacy_page",
        (
            "tests/integration/policy/test_render.py::"
            "test_privacy_routes_serve_page_markdown_and_stylesheet",
        ),
    ),
    Promise(
        P.change_notice_period,
        "changes announced the stated days before they apply",
        "changes",
        E,
        lambda lp: lp.policy.changes.notice_days > 0,
        "avowal.lifecycle.service.publish",
        (
            f"{LIFECYCLE}/test_publish.py::test_production_refuses_a_version_sooner_than_the_notice_period",
        ),
        missing="published versions with effective dates and a notice period (issue 9)",
    ),
    Promise(
        P.change_notice_email,
        "changes announced by e-mail",
        "changes",
        E,
        lambda lp: "email" in lp.policy.changes.notify_by,
        "avowal.lifecycle.notices.notify_upcoming",
        (
            f"{LIFECYCLE}/test_change_notices.py::"
            "test_an_announced_version_mails_each_person_with_a_service_address_once",
            f"{LIFECYCLE}/test_change_notices.py::test_without_mail_nothing_is_queued",
        ),
        missing="change notices by e-mail (issue 9)",
        needs=needs_mail,
    ),
    Promise(
        P.change_notice_banner,
        "changes announced by a notice on the site",
        "changes",
        E,
        lambda lp: "banner" in lp.policy.changes.notify_by,
        "avowal.consent.banner.upcoming",
        (
            f"{CONSENT}/test_banner.py::"
            "test_an_announced_version_is_shown_without_a_new_banner_version",
            f"{BANNER}::test_a_changed_declaration_asks_again",
        ),
    ),
    Promise(
        P.acceptance_recorded,
        "acceptance by continued use is recorded",
        "changes",
        E,
        lambda lp: lp.policy.changes.continued_use_accepts,
        "avowal.lifecycle.acceptance.record_continued_use",
        (
            f"{LIFECYCLE}/test_acceptance.py::"
            "test_continued_use_is_recorded_at_the_first_sign_in_after_the_date_once_notified",
            f"{LIFECYCLE}/test_acceptance.py::test_no_continued_use_without_notice",
        ),
        missing="acceptance records (issue 9)",
    ),
    Promise(
        P.material_change_consent,
        "material changes reach earlier data only with explicit consent",
        "changes",
        E,
        lambda lp: lp.policy.changes.material_requires_explicit,
        "avowal.lifecycle.acceptance.accept_explicitly",
        (
            f"{LIFECYCLE}/test_acceptance.py::"
            "test_continued_use_never_extends_the_purposes_of_earlier_data",
            f"{LIFECYCLE}/test_acceptance.py::test_explicit_acceptance_and_its_refusals",
        ),
        missing="explicit consent for material changes (issue 9)",
    ),
)

REGISTRY: Mapping[P, Promise] = {p.id: p for p in PROMISES}


def get(promise_id: str) -> Promise | None:
    """Return the registered promise of this id, or None."""
    try:
        return REGISTRY[P(promise_id)]
    except ValueError:
        return None


def stated(loaded: LoadedPolicy) -> list[Promise]:
    """Return the promises the page states for this policy, in registry order."""
    return [p for p in REGISTRY.values() if p.stated(loaded)]
