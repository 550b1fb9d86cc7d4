"""dagcore.cron agrees with croniter on wall-time semantics, for expressions drawn from a grammar.

With timezone="UTC" wall time and UTC coincide, so CronExpression(expr).next(t) must equal
croniter(expr, naive t).get_next(datetime) as UTC, and likewise prev (both strict). The grammar
covers the supported syntax except `H`: numbers, names (any case), ranges, steps (`*/n`, `a-b/n`,
`a/n`), lists, 7 as Sunday, `L` in day-of-month, `nL` and `n#k` in day-of-week, both day fields
restricted (OR) or one of them `*`.

Where croniter 1.3.5 is not a usable oracle the example is skipped, never adjusted:
- croniter raises (for instance `1#2` combined with a restricted day-of-month);
- croniter contradicts itself (its get_prev skips Feb 29 when coming from a later month: then its
  prev is not the fire its own get_next reaches from there);
- a day field that is not `*` but covers every value (`0-6`, `*/1`): croniter treats it as `*`,
  the contract's "if one of them is `*`" reads it literally, and the two readings differ;
- the day-of-month/month combination never happens (dagcore rejects those by contract).
croniter itself spells the last Friday `L5`; the grammar's `5L` is translated for it.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone

from croniter import croniter
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from dagcore.cron import CronError, CronExpression

UTC = timezone.utc

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]  # minute hour day-of-month month day-of-week
MINUTE, HOUR, DOM, MONTH, DOW = range(5)


@st.composite
def any_case(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if up else c for c, up in zip(word, flips))


@st.composite
def value(draw: st.DrawFn, field: int, number: int) -> str:
    """A number in a field, sometimes spelled as a name."""
    if field == MONTH and draw(st.booleans()):
        return draw(any_case(MONTHS[number - 1]))
    if field == DOW and number < 7 and draw(st.booleans()):
        return draw(any_case(DAYS[number]))
    return str(number)


@st.composite
def atom(draw: st.DrawFn, field: int) -> str:
    low, high = RANGES[field]
    a = draw(st.integers(low, high))
    b = draw(st.integers(a, high))
    step = draw(st.integers(1, high - low + 1))
    kind = draw(st.sampled_from(["value", "range", "range-step", "start-step", "star-step"]))
    if kind == "value":
        return draw(value(field, a))
    if kind == "range":
        return f"{draw(value(field, a))}-{draw(value(field, b))}"
    if kind == "range-step":
        return f"{draw(value(field, a))}-{draw(value(field, b))}/{step}"
    if kind == "start-step" and field != DOW:
        # `a/n` = a-max/n. (Not drawn for day-of-week, where croniter's max is 7 = Sunday, so
        # `1/3` means 1,4,0 there; the contract does not say which maximum applies.)
        return f"{a}/{step}"
    return f"*/{step}"


@st.composite
def cron_field(draw: st.DrawFn, field: int) -> str:
    if draw(st.integers(0, 9)) < 3:
        return "*"
    return ",".join(draw(st.lists(atom(field), min_size=1, max_size=3)))


@st.composite
def expressions(draw: st.DrawFn) -> str:
    fields = [draw(cron_field(i)) for i in range(5)]
    special = draw(st.sampled_from(["none"] * 6 + ["L", "nL", "n#k"]))
    if special == "L":
        fields[DOM] = "L"
    elif special == "nL":
        fields[DOW], fields[DOM] = f"{draw(st.integers(0, 6))}L", "*"
    elif special == "n#k":
        fields[DOW], fields[DOM] = f"{draw(st.integers(0, 7))}#{draw(st.integers(1, 5))}", "*"
    return " ".join(fields)


def croniter_form(expr: str) -> str:
    fields = expr.split()
    if fields[DOW].endswith("L"):
        fields[DOW] = "L" + fields[DOW][:-1]
    return " ".join(fields)


@st.composite
def naive_instants(draw: st.DrawFn) -> datetime:
    t = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2098, 12, 31)))
    precision = draw(st.sampled_from(["minute", "second"]))
    # croniter works on float timestamps, so microseconds are left to the table tests.
    return t.replace(second=0, microsecond=0) if precision == "minute" else t.replace(microsecond=0)


def _never_fires(spec: str) -> bool:
    """Day-of-week unrestricted and no listed month has any listed day of month."""
    expanded, nth = croniter.expand(spec)
    if expanded[DOW] != ["*"] or nth or expanded[DOM] == ["*"]:
        return False
    months = range(1, 13) if expanded[MONTH] == ["*"] else expanded[MONTH]
    longest = max(29 if m == 2 else calendar.monthrange(2001, m)[1] for m in months)
    return all(d != "l" and int(d) > longest for d in expanded[DOM])


def _covers_everything_but_is_not_star(expr: str, spec: str) -> bool:
    expanded, _ = croniter.expand(spec)
    fields = expr.split()
    return any(expanded[i] == ["*"] and fields[i] != "*" for i in (DOM, DOW))


def _croniter_answers(spec: str, t: datetime) -> tuple[datetime, datetime] | None:
    """croniter's (next, prev) for naive t, or None when croniter cannot serve as the oracle."""
    try:
        nxt = croniter(spec, t).get_next(datetime)
        prv = croniter(spec, t).get_prev(datetime)
        # Self-consistency: nothing fires strictly between prv and nxt except perhaps t itself.
        if croniter(spec, prv).get_next(datetime) not in (t, nxt):
            return None
        if croniter(spec, nxt).get_prev(datetime) not in (t, prv):
            return None
        if croniter(spec, t - timedelta(minutes=1)).get_next(datetime) not in (nxt, t.replace(second=0)):
            return None
    except Exception:  # any croniter failure: no oracle for this example
        return None
    return nxt, prv


@settings(max_examples=400)
@given(expr=expressions(), t=naive_instants(), on_a_fire=st.booleans())
@example(expr="0 0 29 2 *", t=datetime(2023, 3, 1), on_a_fire=False)
@example(expr="0 0 L 2 *", t=datetime(2024, 3, 1), on_a_fire=True)
@example(expr="0 0 * * 5L", t=datetime(2024, 3, 29), on_a_fire=False)
@example(expr="0 0 1 * MON", t=datetime(2024, 2, 1), on_a_fire=True)
@example(expr="5/15 0 1 JAN,jul *", t=datetime(2024, 1, 1, 0, 5), on_a_fire=False)
@example(expr="0 9 * * Mon-FRI", t=datetime(2024, 1, 5, 9, 0, 30), on_a_fire=True)
@example(expr="0 0 * * 7#1", t=datetime(2024, 1, 7), on_a_fire=False)
@example(expr="*/7 */5 31 */2 sat-7", t=datetime(2024, 12, 31, 23, 59, 59), on_a_fire=True)
def test_wall_time_semantics_match_croniter(expr: str, t: datetime, on_a_fire: bool) -> None:
    spec = croniter_form(expr)
    if on_a_fire:  # exactly on a fire time, where strictness matters
        try:
            t = croniter(spec, t).get_next(datetime)
        except Exception:
            assume(False)
    answers = _croniter_answers(spec, t)
    assume(answers is not None)
    assume(not _covers_everything_but_is_not_star(expr, spec))
    assert answers is not None
    want_next, want_prev = answers
    try:
        cron = CronExpression(expr, timezone="UTC")
    except CronError:
        assert _never_fires(spec), f"{expr!r} was rejected but croniter fires at {want_next}"
        assume(False)
        raise
    aware = t.replace(tzinfo=UTC)
    assert cron.next(aware) == want_next.replace(tzinfo=UTC)
    assert cron.prev(aware) == want_prev.replace(tzinfo=UTC)
    assert cron.matches(want_next.replace(tzinfo=UTC))
    on_schedule = t.second == 0 and croniter(spec, t - timedelta(minutes=1)).get_next(datetime) == t
    assert cron.matches(aware) == on_schedule


@settings(max_examples=150)
@given(expr=expressions(), t=naive_instants(), hours=st.integers(1, 24 * 40))
def test_between_is_the_forward_walk(expr: str, t: datetime, hours: int) -> None:
    try:
        cron = CronExpression(expr, timezone="UTC")
    except CronError:
        assume(False)
        raise
    start = t.replace(tzinfo=UTC)
    end = start + timedelta(hours=hours)
    fires = cron.between(start, end)
    assume(len(fires) <= 2000)
    walk = []
    f = cron.next(start - timedelta(microseconds=1))
    while f is not None and f <= end and len(walk) <= 2000:
        walk.append(f)
        f = cron.next(f)
    assert fires == walk
    back = []
    f = cron.prev(end + timedelta(microseconds=1))
    while f is not None and f >= start and len(back) <= 2000:
        back.append(f)
        f = cron.prev(f)
    assert back[::-1] == walk


def test_the_grammar_reaches_every_construct() -> None:
    # The strategy above is only useful if it produces the constructs it claims to.
    seen = set()

    @settings(max_examples=300)
    @given(expr=expressions())
    def collect(expr: str) -> None:
        for f in expr.split():
            if "/" in f:
                seen.add("step")
            if "-" in f:
                seen.add("range")
            if "," in f:
                seen.add("list")
            if any(c.isalpha() and c not in "L" for c in f):
                seen.add("name")
            if f == "L":
                seen.add("L")
            if f.endswith("L") and f[:-1].isdigit():
                seen.add("nL")
            if "#" in f:
                seen.add("#")

    collect()
    assert seen == {"step", "range", "list", "name", "L", "nL", "#"}
