"""Every string the cookie banner shows, in each language avowal writes in.

Declared once per language and per category; :mod:`avowal.consent.banner` puts them in the
banner's configuration (and so in its version: a changed wording asks visitors again).
"""

from __future__ import annotations

from avowal.consent.schemas import BannerTexts, CategoryText
from avowal.policy.schemas import CookieCategory, Language

C = CookieCategory

# (label, description) per category and language.
CATEGORIES: dict[Language, dict[CookieCategory, tuple[str, str]]] = {
    Language.en: {
        C.strictly_necessary: (
            "Strictly necessary",
            "Needed for the site to work and to remember your choice; always on.",
        ),
        C.functional: ("Functional", "Remember your settings and enable extra features."),
        C.analytics: ("Analytics", "Help us understand how the site is used."),
        C.advertising: ("Advertising", "Serve ads and dynamic content and measure them."),
        C.performance: ("Performance", "Keep the site fast and measure its speed."),
    },
    Language.fr: {
        C.strictly_necessary: (
            "Strictement nécessaires",
            "Indispensables au fonctionnement du site et à la mémoire de votre choix ; "
            "toujours actifs.",
        ),
        C.functional: (
            "Fonctionnels",
            "Retiennent vos réglages et activent des fonctions supplémentaires.",
        ),
        C.analytics: ("Mesure d'audience", "Nous aident à comprendre l'usage du site."),
        C.advertising: (
            "Publicité",
            "Servent les publicités et le contenu dynamique, et les mesurent.",
        ),
        C.performance: ("Performance", "Gardent le site rapide et mesurent sa vitesse."),
    },
}

_STRINGS: dict[Language, dict[str, str]] = {
    Language.en: {
        "title": "Cookies",
        "intro": "We use cookies by category. Choose which ones you allow; the site works "
        "without the optional ones, and you can change your mind at any time.",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "save": "Save my choices",
        "customise": "Choose by category",
        "close": "Close",
        "privacy_link": "Privacy policy",
        "always_on": "Always on",
        "gpc_note": "Your browser asks for no sale or sharing (Global Privacy Control): "
        "advertising cookies stay off.",
        "cookies_heading": "Cookies in this category",
        "change_notice": "Our privacy policy changes on {date}.",
        "change_link": "See what changes",
    },
    Language.fr: {
        "title": "Cookies",
        "intro": "Nous utilisons des cookies par catégorie. Choisissez ceux que vous "
        "acceptez ; le site fonctionne sans les cookies facultatifs, et vous pouvez changer "
        "d'avis à tout moment.",
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "save": "Enregistrer mes choix",
        "customise": "Choisir par catégorie",
        "close": "Fermer",
        "privacy_link": "Politique de confidentialité",
        "always_on": "Toujours actifs",
        "gpc_note": "Votre navigateur demande de ne pas vendre ni partager vos données "
        "(Global Privacy Control) : les cookies publicitaires restent désactivés.",
        "cookies_heading": "Cookies de cette catégorie",
        "change_notice": "Notre politique de confidentialité change le {date}.",
        "change_link": "Voir les changements",
    },
}


def texts(
    language: Language, categories: list[CookieCategory], refusal_consequence: str | None
) -> BannerTexts:
    """Return the banner's strings in ``language`` for the categories it shows.

    The policy's refusal consequence is its own words (in the policy's language) and is shown
    in every language rather than left out.
    """
    labels = CATEGORIES[language]
    return BannerTexts(
        **_STRINGS[language],
        categories={
            c.value: CategoryText(label=labels[c][0], description=labels[c][1]) for c in categories
        },
        refusal_consequence=refusal_consequence,
    )
