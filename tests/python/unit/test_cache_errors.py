"""Bad input to VersionCache: the right exception, a message that names the culprit, no change.

Every row of the method tables also checks that the rejected call left the cache as it was
(entries, order, stats), i.e. arguments are validated before anything happens.
"""

from __future__ import annotations

import enum
import math
import re
from typing import Any

import pytest

from dagcore.cache import VersionCache

# id: (constructor kwargs, exception, regex the message must match, or None)
CONSTRUCTOR_ERRORS = {
    "max_entries-zero": ({"max_entries": 0}, ValueError, "max_entries"),
    "max_entries-negative": ({"max_entries": -1}, ValueError, "max_entries"),
    "max_entries-str": ({"max_entries": "10"}, TypeError, None),
    "max_entries-float": ({"max_entries": 1.5}, TypeError, None),
    "max_bytes-zero": ({"max_bytes": 0}, ValueError, "max_bytes"),
    "max_bytes-negative": ({"max_bytes": -1}, ValueError, "max_bytes"),
    "max_bytes-str": ({"max_bytes": "10"}, TypeError, None),
    "max_bytes-float": ({"max_bytes": 1.5}, TypeError, None),
    "max_bytes-zero-unbounded-entries": ({"max_entries": None, "max_bytes": 0}, ValueError, "max_bytes"),
    "ttl-negative": ({"ttl": -1}, ValueError, "ttl"),
    "ttl-zero": ({"ttl": 0}, ValueError, "ttl"),
    "ttl-zero-float": ({"ttl": 0.0}, ValueError, "ttl"),
    "ttl-nan": ({"ttl": math.nan}, ValueError, "ttl"),
    "ttl-str": ({"ttl": "x"}, TypeError, None),
    "policy-lfu": ({"policy": "lfu"}, ValueError, "lfu"),
    "policy-empty": ({"policy": ""}, ValueError, None),
    "clock-not-callable": ({"clock": 5}, TypeError, "clock"),
    "on_evict-not-callable": ({"on_evict": "print"}, TypeError, "on_evict"),
}


@pytest.mark.parametrize(("kwargs", "error", "message"), CONSTRUCTOR_ERRORS.values(), ids=CONSTRUCTOR_ERRORS.keys())
def test_constructor_rejects_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str | None) -> None:
    with pytest.raises(error) as caught:
        VersionCache(**kwargs)
    if message is not None:
        assert re.search(message, str(caught.value)), f"{str(caught.value)!r} does not mention {message!r}"


# --- methods -----------------------------------------------------------------------------------------

class Version(enum.IntEnum):
    V1 = 1


class DagId(str):
    """A str subclass whose own hash and equality would be Python code."""

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return False


@pytest.mark.parametrize(
    ("key", "plain"), [(Version.V1, 1), (DagId("dag"), "dag")], ids=["int-subclass", "str-subclass"]
)
def test_subclass_keys_are_stored_as_their_plain_value(policy: str, key: Any, plain: Any) -> None:
    # Enum members and str subclasses are converted to the exact str/int first (outside the
    # lock), so their Python-level __hash__/__eq__ never run and they find the plain key.
    cache = VersionCache(policy=policy)
    cache.put(key, "v", tag=DagId("tag"))
    assert cache.get(plain) == "v"
    assert key in cache and plain in cache
    assert cache.keys() == [plain] and type(cache.keys()[0]) is type(plain)
    assert cache.get_or_load(key, lambda: pytest.fail("loaded a cached key")) == "v"
    assert cache.invalidate_tag("tag") == 1
    cache.put(plain, "w")
    assert cache.invalidate(key) is True


BAD_KEYS = {
    "float": (1.5, "float"),
    "bytes": (b"k", "bytes"),
    "tuple": (("dag", 1), "tuple"),
    "None": (None, "None"),
    "bool": (True, "bool"),
}


def loader() -> str:
    return "loaded"


KEY_USES = {
    "get": lambda cache, key: cache.get(key),
    "get-with-default": lambda cache, key: cache.get(key, "default"),
    "put": lambda cache, key: cache.put(key, "v"),
    "in": lambda cache, key: key in cache,
    "invalidate": lambda cache, key: cache.invalidate(key),
    "get_or_load": lambda cache, key: cache.get_or_load(key, loader),
}

METHOD_ERRORS = {
    # id: (call, exception, regex the message must match, or None)
    **{
        f"{use}-key-{key_id}": (lambda cache, use=use, key=key: KEY_USES[use](cache, key), TypeError, type_name)
        for use in KEY_USES
        for key_id, (key, type_name) in BAD_KEYS.items()
    },
    "put-weight-zero": (lambda cache: cache.put("k", "v", weight=0), ValueError, "weight"),
    "put-weight-negative": (lambda cache: cache.put("k", "v", weight=-1), ValueError, "weight"),
    "put-weight-str": (lambda cache: cache.put("k", "v", weight="1"), TypeError, None),
    "put-weight-float": (lambda cache: cache.put("k", "v", weight=1.5), TypeError, None),
    "put-weight-none": (lambda cache: cache.put("k", "v", weight=None), TypeError, None),
    "get_or_load-weight-zero": (lambda cache: cache.get_or_load("k", loader, weight=0), ValueError, "weight"),
    "get_or_load-weight-negative": (lambda cache: cache.get_or_load("k", loader, weight=-1), ValueError, "weight"),
    "get_or_load-weight-str": (lambda cache: cache.get_or_load("k", loader, weight="1"), TypeError, None),
    "get_or_load-weight-float": (lambda cache: cache.get_or_load("k", loader, weight=1.5), TypeError, None),
    "put-weight-positional": (lambda cache: cache.put("k", "v", 3), TypeError, None),
    "get_or_load-weight-positional": (lambda cache: cache.get_or_load("k", loader, 3), TypeError, None),
    "put-tag-int": (lambda cache: cache.put("k", "v", tag=5), TypeError, None),
    "get_or_load-tag-int": (lambda cache: cache.get_or_load("k", loader, tag=5), TypeError, None),
    "invalidate_tag-int": (lambda cache: cache.invalidate_tag(5), TypeError, None),
    "get_or_load-loader-not-callable": (lambda cache: cache.get_or_load("k", "loader"), TypeError, "loader"),
    "get_or_load-loader-none": (lambda cache: cache.get_or_load("k", None), TypeError, "loader"),
}


@pytest.fixture
def populated(policy: str) -> VersionCache:
    cache = VersionCache(max_entries=10, max_bytes=100, policy=policy)
    cache.put("a", 1, weight=2, tag="dag")
    cache.put(7, 2, weight=3)
    cache.get("a")
    cache.get("missing")
    return cache


@pytest.mark.parametrize(("call", "error", "message"), METHOD_ERRORS.values(), ids=METHOD_ERRORS.keys())
def test_method_rejects_bad_arguments_and_changes_nothing(
    populated: VersionCache, call, error: type[Exception], message: str | None
) -> None:
    keys, stats = populated.keys(), populated.stats
    with pytest.raises(error) as caught:
        call(populated)
    if message is not None:
        assert re.search(message, str(caught.value)), f"{str(caught.value)!r} does not mention {message!r}"
    assert populated.keys() == keys
    assert len(populated) == len(keys)
    assert populated.stats == stats


@pytest.mark.parametrize("weight", [0, -1, "1", 1.5], ids=["zero", "negative", "str", "float"])
def test_get_or_load_does_not_call_the_loader_when_weight_is_invalid(policy: str, weight: Any) -> None:
    calls: list[int] = []
    cache = VersionCache(policy=policy)
    with pytest.raises((TypeError, ValueError)):
        cache.get_or_load("k", lambda: calls.append(1), weight=weight)
    assert calls == []


def test_a_rejected_put_does_not_replace_the_old_value(policy: str) -> None:
    cache = VersionCache(policy=policy)
    cache.put("k", "old")
    with pytest.raises(ValueError):
        cache.put("k", "new", weight=0)
    with pytest.raises(TypeError):
        cache.put("k", "new", tag=1)
    assert cache.get("k") == "old"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_entries": None},
        {"max_entries": None, "max_bytes": None},
        {"max_bytes": 1},
        {"ttl": None},
        {"ttl": 0.001},
        {"ttl": math.inf},
        {"clock": None, "on_evict": None},
        {"clock": lambda: 0.0, "on_evict": lambda k, v, r: None},
        {"policy": "tinylfu"},
    ],
    ids=["no-entry-limit", "unbounded", "one-byte", "no-ttl", "tiny-ttl", "infinite-ttl", "default-hooks", "lambda-hooks", "tinylfu"],
)
def test_constructor_accepts_valid_arguments(kwargs: dict[str, Any]) -> None:
    cache = VersionCache(**kwargs)
    cache.put("k", "v")
    assert cache.get("k") == "v"


def test_constructor_takes_its_arguments_positionally_too() -> None:
    cache = VersionCache(10, 100, 5.0, "tinylfu")
    assert (cache.max_entries, cache.max_bytes, cache.ttl, cache.policy) == (10, 100, 5.0, "tinylfu")


@pytest.mark.parametrize(
    ("weigh", "error"),
    [(lambda v: 0, ValueError), (lambda v: -2, ValueError), (lambda v: "1", TypeError), (lambda v: 1.5, TypeError)],
    ids=["zero", "negative", "str", "float"],
)
def test_an_invalid_weight_from_the_weight_callable_fails_the_call(policy: str, weigh, error: type[Exception]) -> None:
    cache = VersionCache(max_bytes=100, policy=policy)
    with pytest.raises(error):
        cache.get_or_load("k", lambda: "v", weight=weigh)
    assert "k" not in cache
    assert (cache.stats.size, cache.stats.weight) == (0, 0)
