"""Pools of pre-encoded customer fragments that the dataset splices into customers.

A customer's JSON is ``{"id": ..., <identity>, "firstSeen": ..., "lastSeen": ...,
<place>, <profile>}``: the id and timestamps are computed per customer, the three
fragments are picked from pools built once per seed. Building the pools costs a few
thousand ``random.Random`` draws and ``msgspec`` encodes; afterwards a customer is a
byte join, so the server can produce fresh pages at thousands of customers a second.

The pools hold the vendor example's variety: nulls wherever the API allows them,
``device`` null for about 30%, zero to three tags, zero to thirteen ``customData``
entries with str, int, float, bool and null values, non-ASCII names, and values with
commas, quotes and newlines (the CSV export is tested against them).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

import msgspec

# Prime sizes so the picks, taken from different bits of one hash, do not line up.
IDENTITY_POOL = 1021
PLACE_POOL = 509
PROFILE_POOL = 2039

_FIRST_NAMES = (
    "Lana",
    "Serge",
    "Vlad",
    "Zoë",
    "Łukasz",
    "Ørjan",
    "李雷",
    "Ana María",
    "José",
    "Siobhán",
    "Björk",
    "Nguyễn",
    "Ахмед",
    "Mary-Jane",
    "O'Brien",
    "🦄 Uni",
    "Émile",
    "Chloé",
    "Sven",
    "Amélie",
)
_LAST_NAMES = (
    "Ångström",
    "Del Red",
    "Merge",
    "Darkula",
    "Kowalski",
    "Ødegaard",
    "韩梅梅",
    "García",
    "Müller",
    "Smith, Jr.",
    'the "Boss"',
    "Núñez",
    "Иванова",
    "Dupont",
    "Østergård",
    "🚀",
)
_COMPANIES = (
    "example",
    "transylmania",
    "test123abc",
    "Smith, Jones & Partners",
    'ACME "Rockets" Ltd',
    "Ångström AB",
    "北京科技",
    "Line\nBreak Inc",
)
_DOMAINS = ("example.com", "test.com", "transylmania.com", "mail.example.org", "例え.jp")
_CITIES = (
    ("CA", "US", "Los Angeles"),
    ("40", "RO", "Cluj-Napoca"),
    ("BE", "DE", "Berlin"),
    ("30", "UA", "Kyiv"),
    ("ENG", "GB", "London"),
    ("11", "CN", "北京"),
    ("13", "JP", "Tōkyō"),
    ("IDF", "FR", "Paris, 11e"),
    ("03", "NO", "Oslo"),
    ("MZ", "PL", "Łódź"),
)
_TIMEZONES = (
    "America/Los Angeles",
    "Europe/Kiev",
    "Europe/Berlin",
    "Asia/Tokyo",
    "UTC",
    "Europe/Oslo",
)
_PLATFORMS = ("desktop", "mobile", "tablet")
_USER_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/81.0.4044.129 Safari/537.36"
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_4) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/83.0.4103.97 Safari/537.36"
    ),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
)
_SITES = (
    "https://helpcrunch.com/",
    "https://www.blood.co.uk/",
    "https://example.com/pricing?plan=pro&ref=a,b",
    "https://google.com/",
)
_PAGES = (
    "https://helpcrunch.com/zendesk-alternative.html",
    "https://www.blood.co.uk/who-can-give-blood/getting-an-appointment-to-give-blood/",
    'https://example.com/café/ñ?q="quoted"',
)
_LOCALES = ("en", "ro", "de", "uk", "zh", "ja", "fr", "nb", "pl")
_NOTES = (
    "Called twice, prefers email",
    'Said "call me later"',
    "Line one\nline two",
    "VIP 🌟",
    'Comma, quote ", and newline\r\nall at once',
)
_TAGS = (
    ("direct", "#0079bf"),
    ("Lead", "#eb5a46"),
    ("Feature Request", "#0079bf"),
    ("Paid", "#61bd4f"),
    ("Churn risk, high", "#f2d600"),
    ('"VIP"', "#c377e0"),
)
TAG_COLORS: tuple[tuple[str, str], ...] = _TAGS
"""The account's tags and their colours, as the synthetic customers carry them."""
_PLANS = ("Premium", "Standard", "Enterprise (Unlimited) $9999/mo", "Free, forever")


@dataclass(frozen=True)
class Pools:
    """The encoded fragments: each a run of ``"key":value`` pairs without the braces."""

    identities: tuple[bytes, ...]
    places: tuple[bytes, ...]
    profiles: tuple[bytes, ...]


# Pools are immutable and cost tens of milliseconds: emulators started by a test suite share.
@functools.lru_cache(maxsize=8)
def build_pools(seed: int, *, custom_data_as_object: bool = False) -> Pools:
    """Draw and encode the fragment pools for ``seed`` (same seed, same bytes)."""
    rng = random.Random(f"helpcrunch-emulator-pools-{seed}")
    return Pools(
        identities=tuple(_fragment(_identity(rng, n)) for n in range(IDENTITY_POOL)),
        places=tuple(_fragment(_place(rng)) for _ in range(PLACE_POOL)),
        profiles=tuple(
            _fragment(_profile(rng, custom_data_as_object=custom_data_as_object))
            for _ in range(PROFILE_POOL)
        ),
    )


def _fragment(fields: dict[str, Any]) -> bytes:
    # Encoding the dict and dropping its braces leaves valid JSON members to splice.
    return msgspec.json.encode(fields)[1:-1]


def _chance(rng: random.Random, share: float) -> bool:
    return rng.random() < share


def _maybe(rng: random.Random, null_share: float, value: Any) -> Any:
    return None if _chance(rng, null_share) else value


def _identity(rng: random.Random, number: int) -> dict[str, Any]:
    first = rng.choice(_FIRST_NAMES)
    last = rng.choice(_LAST_NAMES)
    company = rng.choice(_COMPANIES)
    handle = f"{first}.{last}".lower().replace(" ", "").replace('"', "")
    return {
        "name": _maybe(rng, 0.1, f"{first} {last}"),
        "email": _maybe(rng, 0.15, f"{handle}@{rng.choice(_DOMAINS)}"),
        "userId": _maybe(rng, 0.4, f"{company.split()[0].lower()}_{number}"),
        "company": _maybe(rng, 0.4, company),
        "phone": _maybe(rng, 0.6, f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {number:04d}"),
    }


def _place(rng: random.Random) -> dict[str, Any]:
    region, country, city = rng.choice(_CITIES)
    if _chance(rng, 0.25):
        location: dict[str, Any] = {"regionCode": None, "countryCode": None, "city": None}
    else:
        location = {"regionCode": _maybe(rng, 0.1, region), "countryCode": country, "city": city}
    device = None
    if not _chance(rng, 0.3):
        device = {
            "id": rng.randint(1_000_000, 99_999_999),
            "ip": f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "timezone": _maybe(rng, 0.1, rng.choice(_TIMEZONES)),
            "platform": rng.choice(_PLATFORMS),
            "userAgent": rng.choice(_USER_AGENTS),
        }
    return {"location": location, "device": device}


def _profile(rng: random.Random, *, custom_data_as_object: bool) -> dict[str, Any]:
    tags = [{"name": name, "color": color} for name, color in rng.sample(_TAGS, rng.randint(0, 3))]
    items = _custom_data(rng)
    custom_data: Any = (
        dict(items)
        if custom_data_as_object
        else [{"property": key, "value": value} for key, value in items]
    )
    return {
        "unsubscribed": _chance(rng, 0.2),
        "blocked": _chance(rng, 0.05),
        "source": _maybe(rng, 0.5, rng.choice(_SITES)),
        "referer": _maybe(rng, 0.6, rng.choice(_SITES)),
        "locale": _maybe(rng, 0.3, rng.choice(_LOCALES)),
        "notes": _maybe(rng, 0.8, rng.choice(_NOTES)),
        "lastPage": _maybe(rng, 0.4, rng.choice(_PAGES)),
        "tags": tags,
        "customData": custom_data,
    }


def _custom_data(rng: random.Random) -> list[tuple[str, Any]]:
    candidates: list[tuple[str, Any]] = [
        ("Role", rng.choice(("admin", "supervisor", "agent", None))),
        ("Plan", rng.choice(_PLANS)),
        ("segment", _maybe(rng, 0.5, f"seg_{rng.randint(1, 9)}")),
        ("Currency", rng.choice(("USD", "EUR", "GBP"))),
        ("Emails sent", rng.randint(0, 5000)),
        ("Trial end date", f"20{rng.randint(17, 24)}-07-24 14:30:00"),
        ("Became payer at", _maybe(rng, 0.4, "2017-09-13 00:00:00")),
        ("Registered date", "2017-07-10 14:30:00"),
        ("Lifetime value", round(rng.uniform(0, 10_000), 2)),
        ("Billing info added", _chance(rng, 0.5)),
        ("Number of payments", rng.randint(0, 40)),
        ("Subscription status", rng.choice(("active", "suspended", "trial", None))),
        ("Comment", rng.choice(('likes "quotes", commas', "multi\nline", "Zoë 🎉", ""))),
    ]
    return candidates[: rng.randint(0, len(candidates))]


@dataclass(frozen=True)
class DecodedPools:
    """The searchable values behind each pool entry, decoded once from the fragments."""

    # identities[k]: name, email, userId, company, phone (each str or None).
    identities: tuple[dict[str, str | None], ...]
    # places[k]: city, countryCode, regionCode (each str or None).
    places: tuple[dict[str, str | None], ...]
    # tags[k]: the tag names of profile k.
    tags: tuple[frozenset[str], ...]


@functools.lru_cache(maxsize=8)
def decode_pools(seed: int, *, custom_data_as_object: bool = False) -> DecodedPools:
    """Decode the pools of ``seed`` into the values that search filters compare."""
    pools = build_pools(seed, custom_data_as_object=custom_data_as_object)

    def whole(fragment: bytes) -> dict[str, Any]:
        return msgspec.json.decode(b"{" + fragment + b"}", type=dict[str, Any])

    places = []
    for fragment in pools.places:
        location = whole(fragment)["location"]
        places.append({key: location[key] for key in ("city", "countryCode", "regionCode")})
    return DecodedPools(
        identities=tuple(whole(fragment) for fragment in pools.identities),
        places=tuple(places),
        tags=tuple(
            frozenset(tag["name"] for tag in whole(fragment)["tags"]) for fragment in pools.profiles
        ),
    )
