"""A DAG-version cache as an API server would use it (run: .venv/bin/python examples/cache_example.py).

Versions are loaded once however many threads ask for them, bounded by count and bytes,
refreshed after an hour, and dropped by dag_id when a DAG file changes.
"""

from __future__ import annotations

import json
import threading

from dagcore.cache import VersionCache

STORE = {  # stands in for the serialized_dag table: version id -> (dag_id, JSON)
    f"v{n}": (f"dag_{n % 3}", json.dumps({"dag_id": f"dag_{n % 3}", "tasks": list(range(n))}))
    for n in range(10)
}
loads = 0


def load(version_id: str) -> dict:
    """Deserialize one stored version (the expensive part the cache saves)."""
    global loads
    loads += 1
    return json.loads(STORE[version_id][1])


def evicted(key: str | int, value: object, reason: str) -> None:
    print(f"evicted {key} ({reason})")


cache = VersionCache(max_entries=512, max_bytes=64 << 20, ttl=3600, policy="tinylfu",
                     on_evict=evicted)


def get_dag(version_id: str) -> dict:
    dag_id, data = STORE[version_id]
    return cache.get_or_load(version_id, lambda: load(version_id), weight=len(data), tag=dag_id)


threads = [threading.Thread(target=get_dag, args=("v7",)) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"8 concurrent requests for v7 -> {loads} load")

for n in range(10):
    get_dag(f"v{n}")
print(f"cached {len(cache)} versions, {cache.stats.weight} bytes")
print(f"dag_1 changed: dropped {cache.invalidate_tag('dag_1')} of its versions")
print(cache.stats)
