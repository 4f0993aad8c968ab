"""Synthetic borrowers: names, resident ID numbers, mobiles, addresses, emergency contacts.

Faker (``zh_CN``) supplies pools of names, street names and e-mail user names (a few
thousand calls, whatever the book's size: one call per borrower cost about half a CPU
millisecond, ten seconds on the 20,000-borrower demo); borrowers draw from the pools,
and everything numeric (ages, ID numbers, mobiles, places, shares) is drawn with numpy
at once. Both are seeded per call, so the same seed gives the same people (no global
random state). A pool's values keep Faker's frequencies (common surnames are common).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import polars as pl
from faker import Faker

from forbear.sim.geography import districts

# GB 11643-1999: weights of the first 17 digits and the check character for sum mod 11.
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"

# Mainland mobile number blocks in use (13x, 15x, 18x, 19x; no data-only or IoT blocks).
MOBILE_PREFIXES = np.array(
    [
        *range(130, 140),
        *(150, 151, 152, 153, 155, 156, 157, 158, 159),
        *range(180, 190),
        *(191, 193, 195, 198, 199),
    ],
    dtype=np.int64,
)

RISK_CLASSES = ("good", "slow", "bad")
RELATIONS = ("parent", "spouse", "sibling", "friend", "colleague", "child", "other")
_RELATION_P = (0.34, 0.30, 0.14, 0.12, 0.06, 0.02, 0.02)

EMAIL_SHARE = 0.30
EMERGENCY_SHARE = 0.70
HUKOU_ELSEWHERE_SHARE = 0.20  # ID issued somewhere other than where the borrower lives


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID."""
    total = sum(int(c) * int(w) for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def is_valid_national_id(value: str) -> bool:
    """True for an 18-character resident ID whose check character is right."""
    return (
        len(value) == 18
        and value[:17].isdigit()
        and value[17] in ID_CHECK
        and id_check_char(value[:17]) == value[17]
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _unique_mobiles(
    rng: np.random.Generator, n: int, avoid: np.ndarray | None = None
) -> np.ndarray:
    numbers = rng.choice(MOBILE_PREFIXES, n) * 100_000_000 + rng.integers(0, 100_000_000, n)
    taken = set() if avoid is None else set(avoid.tolist())
    # Redraw the (rare) duplicates so every borrower has their own number.
    for i in range(n):
        while int(numbers[i]) in taken:
            numbers[i] = rng.choice(MOBILE_PREFIXES) * 100_000_000 + rng.integers(0, 100_000_000)
        taken.add(int(numbers[i]))
    return numbers


def _national_ids(
    rng: np.random.Generator, area: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> list[str]:
    """Resident ID numbers: area code, birth date, sequence (odd for men), check char."""
    n = len(area)
    ymd = np.datetime_as_string(birth.astype("datetime64[D]")).astype("U10")
    # three digits whose last one is odd for men and even for women
    seq = rng.integers(0, 500, n) * 2 + male.astype(np.int64)
    seen: set[str] = set()
    out: list[str] = []
    for i in range(n):
        base = f"{area[i]}{ymd[i].replace('-', '')}"
        s = int(seq[i])
        while True:
            first17 = f"{base}{s % 1000:03d}"
            if first17 not in seen:
                break
            s += 2  # keep the sex digit's parity
        seen.add(first17)
        out.append(first17)
    digits = np.frombuffer("".join(out).encode("ascii"), dtype=np.uint8).reshape(n, 17) - 48
    checks = (digits.astype(np.int64) @ ID_WEIGHTS) % 11
    check_chars = np.array(list(ID_CHECK))[checks]
    return [f + c for f, c in zip(out, check_chars, strict=True)]


POOL = 4_000  # values drawn from Faker per kind; a smaller book draws one per borrower


def _pool(n: int, make: Callable[[], str]) -> np.ndarray:
    return np.array([make() for _ in range(min(n, POOL))], dtype=object)


def _draw(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    return pool[rng.integers(0, len(pool), n)]


def make_borrowers(n: int, as_of: date, rng: np.random.Generator, fake: Faker) -> pl.DataFrame:
    """``n`` borrowers with personal data, a latent risk class and an age of 20 to 60."""
    places, weights = districts()
    home = rng.choice(len(places), n, p=weights)
    elsewhere = rng.random(n) < HUKOU_ELSEWHERE_SHARE
    born_in = np.where(elsewhere, rng.choice(len(places), n, p=weights), home)
    area = np.array([p.code for p in places])[born_in]

    # Ages 20-60 at as_of, most borrowers in their late twenties and thirties.
    as_of_day = np.datetime64(as_of, "D")
    youngest = int((as_of_day - np.datetime64(_years_before(as_of, 20), "D")).astype(np.int64))
    oldest = int((as_of_day - np.datetime64(_years_before(as_of, 61), "D")).astype(np.int64)) - 1
    span = rng.beta(2.0, 3.5, n)
    age_days = (youngest + span * (oldest - youngest)).astype(np.int64)
    birth = as_of_day - age_days.astype("timedelta64[D]")
    male = rng.random(n) < 0.55

    # Younger borrowers fall behind more often (a common finding in consumer credit).
    young = age_days < 30 * 365
    p_bad = np.where(young, 0.09, 0.06)
    p_slow = np.where(young, 0.14, 0.11)
    u = rng.random(n)
    risk = np.where(u < p_bad, 2, np.where(u < p_bad + p_slow, 1, 0))

    has_email = rng.random(n) < EMAIL_SHARE
    has_contact = rng.random(n) < EMERGENCY_SHARE
    relation = rng.choice(len(RELATIONS), n, p=_RELATION_P)
    mobiles = _unique_mobiles(rng, n)
    contact_mobiles = _unique_mobiles(rng, n, avoid=mobiles)
    house_no = rng.integers(1, 400, n)
    building = rng.integers(1, 30, n)
    unit = rng.integers(1, 6, n)
    room = rng.integers(1, 33, n) * 100 + rng.integers(1, 5, n)
    with_flat = rng.random(n) < 0.8

    # the pools' draws come from Faker's own stream, so the book's numpy stream (loans,
    # payments, risk) is the same whatever is drawn here
    pick = np.random.default_rng(fake.random.getrandbits(64))
    surnames = _draw(pick, _pool(n, fake.last_name), n)
    given = np.where(
        male,
        _draw(pick, _pool(n, fake.first_name_male), n),
        _draw(pick, _pool(n, fake.first_name_female), n),
    )
    names = (surnames + given).tolist()
    users = _draw(pick, _pool(n, fake.user_name), n)
    suffix = np.where(pick.random(n) < 0.5, pick.integers(1, 1000, n).astype(str), "")
    domains = _draw(pick, _pool(n, fake.free_email_domain), n)
    emails = [
        f"{u}{x}@{d}" if has else None
        for u, x, d, has in zip(users, suffix, domains, has_email, strict=True)
    ]
    streets = _draw(pick, _pool(n, fake.street_name), n)
    addresses = [
        f"{places[h].district}{st}{no}号" + (f"{b}号楼{u}单元{r}室" if flat else "")
        for h, st, no, b, u, r, flat in zip(
            home, streets, house_no, building, unit, room, with_flat, strict=True
        )
    ]
    # Parents, children and siblings usually share the family name; a spouse does not.
    kin = np.isin(relation, [RELATIONS.index(r) for r in ("parent", "child", "sibling")])
    family = np.where(kin, surnames, _draw(pick, _pool(n, fake.last_name), n))
    contact_names: list[str | None] = np.asarray(
        np.where(has_contact, family + _draw(pick, _pool(n, fake.first_name), n), None)
    ).tolist()

    return (
        pl.DataFrame(
            {
                "customer_ref": [f"C{i + 1:08d}" for i in range(n)],
                "risk": np.array(RISK_CLASSES)[risk],
                "name": names,
                "national_id": _national_ids(rng, area, birth, male),
                "mobile": mobiles.astype(str),
                "email": emails,
                "province": [places[h].province for h in home],
                "city": [places[h].city for h in home],
                "address": addresses,
                "emergency_name": contact_names,
                "emergency_relation": np.array(RELATIONS)[relation],
                "emergency_mobile": contact_mobiles.astype(str),
                "_contact": has_contact,
                "birth_date": birth.astype("datetime64[D]"),
            },
            schema_overrides={"email": pl.String, "emergency_name": pl.String},
        )
        .with_columns(
            pl.when("_contact").then(pl.col(c)).alias(c)
            for c in ("emergency_relation", "emergency_mobile")
        )
        .drop("_contact")
    )
