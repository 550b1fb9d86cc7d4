// Python binding of VersionCache: keys are exact str/int objects hashed by Python, values any
// object. A uuid.UUID key is its canonical string (`str(uuid)`, built here from its `int`), so a
// DAG version id is one key whether the caller holds the UUID or the string.
//
// Locking and the GIL: every call holds the GIL and takes the cache mutex only around C++ work
// that runs no Python code (hashing and comparing exact str/int keys, reference-count changes
// of live objects). Everything that can run Python code happens outside the mutex: the clock
// and the loader are called before or after it, removed entries are handed to on_evict and
// released after it (the template guarantees this), and new Python objects (lists, dicts) are
// built after it, so the collector can never run while this thread holds the mutex. A thread
// waiting for another thread's load releases the GIL while it waits and re-acquires it only
// after it has dropped the mutex, so the two locks are never taken in opposite orders.
//
// `get`, `get_fresh` and `put` are the hot paths (an API server asks for DAG versions on every
// request; every miss ends in a put), so they are METH_FASTCALL functions rather than pybind11
// overloads: pybind11's dispatcher costs more than the whole lookup.
#include <pybind11/pybind11.h>
#include <structmember.h>
#include <tsl/robin_set.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "dagcore/version_cache.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace dagcore::bindings {
namespace {

/// A borrowed exact str or int with its Python hash, for lookups.
/// For a uuid.UUID looked up (get, get_fresh), `obj` is null and `uuid_text` holds its
/// canonical text, hashed as Python hashes that str: the lookup builds no str object.
struct py_key_view {
  PyObject* obj;
  std::size_t hash;
  const char* uuid_text = nullptr;
};

constexpr Py_ssize_t uuid_text_length = 36;

/// An owned exact str or int with its Python hash: what the cache stores as a key or a tag.
struct py_key {
  explicit py_key(const py_key_view& v)
      : obj(py::reinterpret_borrow<py::object>(v.obj)), hash(v.hash) {}
  py::object obj;
  std::size_t hash;
};

/// Whether `s` is the exact str whose characters are the 36 of `text`.
bool is_uuid_text(PyObject* s, const char* text) noexcept {
  return PyUnicode_CheckExact(s) && PyUnicode_IS_COMPACT_ASCII(s) &&
         PyUnicode_GET_LENGTH(s) == uuid_text_length &&
         std::memcmp(PyUnicode_1BYTE_DATA(s), text, uuid_text_length) == 0;
}

// Keys are restricted to exact str and int, whose hash and equality are C code: comparing them
// under the mutex runs no Python code. Different types never compare equal (1 != "1").
bool same_value(PyObject* a, PyObject* b) noexcept {
  if (a == b) return true;
  if (Py_TYPE(a) != Py_TYPE(b)) return false;
  if (PyUnicode_CheckExact(a)) return PyUnicode_Compare(a, b) == 0;
  const int equal = PyObject_RichCompareBool(a, b, Py_EQ);
  if (equal < 0) PyErr_Clear();
  return equal == 1;
}

struct py_key_hash {
  using is_transparent = void;
  std::size_t operator()(const py_key& k) const noexcept { return k.hash; }
  std::size_t operator()(const py_key_view& k) const noexcept { return k.hash; }
};

struct py_key_equal {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    return a.hash == b.hash && equal(a, b);
  }

 private:
  static bool equal(const py_key& a, const py_key& b) noexcept {
    return same_value(a.obj.ptr(), b.obj.ptr());
  }
  static bool equal(const py_key_view& a, const py_key& b) noexcept {
    return a.obj ? same_value(a.obj, b.obj.ptr()) : is_uuid_text(b.obj.ptr(), a.uuid_text);
  }
  static bool equal(const py_key& a, const py_key_view& b) noexcept { return equal(b, a); }
};

/// Seconds as a double: the unit of Python clocks (time.monotonic and friends).
struct seconds_clock {
  using rep = double;
  using period = std::ratio<1>;
  using duration = std::chrono::duration<double>;
  using time_point = std::chrono::time_point<seconds_clock, duration>;
  [[maybe_unused]] static constexpr bool is_steady = true;
  static time_point now() noexcept {
    return time_point(
        std::chrono::duration_cast<duration>(std::chrono::steady_clock::now().time_since_epoch()));
  }
};

struct py_traits {
  using hasher = py_key_hash;
  using key_equal = py_key_equal;
  using tag_type = py_key;
  using tag_hasher = py_key_hash;
  using tag_equal = py_key_equal;
  using failure_type = py::object;  // the exception instance
};

using cache_type = VersionCache<py_key, py::object, seconds_clock, py_traits>;
using time_point = cache_type::time_point;

std::string type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }

/// uuid.UUID, looked up once when the module is registered (the uuid module is never unloaded).
PyTypeObject* g_uuid_type = nullptr;
/// The interned name "int", and the offset of UUID's `int` slot (UUID has __slots__), so an
/// exact UUID's value is read without an attribute lookup.
PyObject* g_int_name = nullptr;
Py_ssize_t g_uuid_int_offset = -1;

void init_uuid_support() {
  const py::object cls = py::module_::import("uuid").attr("UUID");
  // Strong references kept for the life of the process, as the uuid module keeps them anyway.
  g_uuid_type = reinterpret_cast<PyTypeObject*>(py::object(cls).release().ptr());
  g_int_name = PyUnicode_InternFromString("int");
  if (!g_int_name) throw py::error_already_set();
  PyObject* descr = PyDict_GetItemWithError(g_uuid_type->tp_dict, g_int_name);  // borrowed
  if (descr && Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
    const PyMemberDef* member = reinterpret_cast<PyMemberDescrObject*>(descr)->d_member;
    if (member->type == T_OBJECT_EX) g_uuid_int_offset = member->offset;
  }
  PyErr_Clear();
}

/// Writes `str(u)` for a uuid.UUID into `text`: the 36-character lowercase canonical form, from
/// its 128-bit `int`.
void format_uuid(PyObject* u, char (&text)[uuid_text_length]) {
  py::object value;
  if (Py_IS_TYPE(u, g_uuid_type) && g_uuid_int_offset >= 0) {
    PyObject* slot = *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(u) + g_uuid_int_offset);
    if (slot) value = py::reinterpret_borrow<py::object>(slot);
  }
  if (!value) {  // a subclass (its `int` may be a property) or an unset slot
    value = py::reinterpret_steal<py::object>(PyObject_GetAttr(u, g_int_name));
    if (!value) throw py::error_already_set();
  }
  if (!PyLong_Check(value.ptr())) {
    throw py::type_error("key: uuid.UUID.int must be an int, got " + type_name(value.ptr()));
  }
  unsigned char bytes[16];
#if PY_VERSION_HEX >= 0x030D0000
  const Py_ssize_t n =
      PyLong_AsNativeBytes(value.ptr(), bytes, sizeof bytes,
                           Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                               Py_ASNATIVEBYTES_REJECT_NEGATIVE);
  if (n < 0) throw py::error_already_set();
  if (n > static_cast<Py_ssize_t>(sizeof bytes))
    throw py::value_error("key: uuid.UUID.int is out of range");
#else
  if (_PyLong_AsByteArray(reinterpret_cast<PyLongObject*>(value.ptr()), bytes, sizeof bytes,
                          /*little_endian=*/0, /*is_signed=*/0) < 0) {
    throw py::error_already_set();
  }
#endif
  static constexpr char digits[] = "0123456789abcdef";
  char* out = text;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *out++ = '-';
    *out++ = digits[bytes[i] >> 4];
    *out++ = digits[bytes[i] & 0xF];
  }
}

/// The hash Python gives the str of these characters (str.__hash__ hashes its bytes).
std::size_t hash_uuid_text(const char (&text)[uuid_text_length]) noexcept {
  return static_cast<std::size_t>(_Py_HashBytes(text, uuid_text_length));
}

std::size_t hash_of(PyObject* o) {
  const Py_hash_t h = PyObject_Hash(o);
  if (h == -1) throw py::error_already_set();
  return static_cast<std::size_t>(h);
}

/// A key or tag as the cache stores it: exact str and int pass through; subclasses of str and
/// int (enums, say) are converted to the plain value first, outside any lock, because their
/// __hash__/__eq__ may be Python code; a uuid.UUID key becomes its canonical str; bool and
/// everything else is rejected.
class key_arg {
 public:
  /// With `lookup_only`, a UUID key is not turned into a str object (see py_key_view); such a
  /// key_arg may only be used to find entries, never to store one (owned()).
  key_arg(PyObject* o, const char* what, bool allow_int = true, bool lookup_only = false) {
    if (PyUnicode_CheckExact(o) || (allow_int && PyLong_CheckExact(o))) {
      m_view = {o, hash_of(o)};
      return;
    }
    if (allow_int && g_uuid_type && PyObject_TypeCheck(o, g_uuid_type)) {
      format_uuid(o, m_uuid_text);
      if (lookup_only) {
        m_view = {nullptr, hash_uuid_text(m_uuid_text), m_uuid_text};
        return;
      }
      m_holder = py::reinterpret_steal<py::object>(
          PyUnicode_FromStringAndSize(m_uuid_text, uuid_text_length));
    } else if (PyUnicode_Check(o)) {
      m_holder = py::reinterpret_steal<py::object>(PyUnicode_FromObject(o));
    } else if (allow_int && PyLong_Check(o) && !PyBool_Check(o)) {
      m_holder = py::reinterpret_steal<py::object>(PyNumber_Index(o));
    } else {
      throw py::type_error(
          std::string(what) +
          (allow_int ? " must be str, int or uuid.UUID, got " : " must be str or None, got ") +
          type_name(o));
    }
    if (!m_holder) throw py::error_already_set();
    m_view = {m_holder.ptr(), hash_of(m_holder.ptr())};
  }

  key_arg(const key_arg&) = delete;
  key_arg& operator=(const key_arg&) = delete;

  [[nodiscard]] const py_key_view& view() const noexcept { return m_view; }
  [[nodiscard]] py_key owned() const { return py_key(m_view); }

 private:
  py::object m_holder;
  py_key_view m_view{};
  char m_uuid_text[uuid_text_length]{};
};

std::optional<py_key> tag_arg(const py::object& tag) {
  if (tag.is_none()) return std::nullopt;
  return key_arg(tag.ptr(), "tag", /*allow_int=*/false).owned();
}

std::optional<std::uint64_t> limit_arg(const py::object& v, const char* name,
                                       std::uint64_t largest) {
  if (v.is_none()) return std::nullopt;
  if (PyBool_Check(v.ptr()) || !PyLong_Check(v.ptr())) {
    throw py::type_error(std::string(name) + " must be an int or None, got " + type_name(v.ptr()));
  }
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (overflow > 0 || (overflow == 0 && n > 0 && static_cast<unsigned long long>(n) > largest)) {
    throw py::value_error(std::string(name) + " is too large: " + py::repr(v).cast<std::string>());
  }
  if (overflow < 0 || n <= 0) {
    throw py::value_error(std::string(name) + " must be a positive integer or None, got " +
                          py::repr(v).cast<std::string>());
  }
  return static_cast<std::uint64_t>(n);
}

double seconds_arg(PyObject* v, const char* what) {
  if (PyBool_Check(v) || !(PyFloat_Check(v) || PyLong_Check(v))) {
    throw py::type_error(std::string(what) + " must be a number of seconds, got " + type_name(v));
  }
  const double d = PyFloat_AsDouble(v);
  if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return d;
}

std::optional<seconds_clock::duration> ttl_arg(const py::object& v) {
  if (v.is_none()) return std::nullopt;
  const double d = seconds_arg(v.ptr(), "ttl");
  if (std::isnan(d) || d <= 0) {
    throw py::value_error("ttl must be a positive number of seconds or None (no expiry), got " +
                          py::repr(v).cast<std::string>());
  }
  return seconds_clock::duration(d);
}

std::optional<seconds_clock::duration> refresh_after_arg(const py::object& v) {
  if (v.is_none()) return std::nullopt;
  const double d = seconds_arg(v.ptr(), "refresh_after");
  if (std::isnan(d) || d < 0) {
    throw py::value_error(
        "refresh_after must be a number of seconds >= 0 or None (never stale), got " +
        py::repr(v).cast<std::string>());
  }
  return seconds_clock::duration(d);
}

cache_policy policy_arg(const py::object& v) {
  if (!PyUnicode_Check(v.ptr())) {
    throw py::type_error("policy must be 'lru' or 'tinylfu', got " + type_name(v.ptr()));
  }
  const auto parsed = parse_cache_policy(v.cast<std::string>());
  if (!parsed) {
    throw py::value_error("policy must be 'lru' or 'tinylfu', got " +
                          py::repr(v).cast<std::string>());
  }
  return *parsed;
}

py::object callable_arg(py::object v, const char* name) {
  if (!v.is_none() && !PyCallable_Check(v.ptr())) {
    throw py::type_error(std::string(name) + " must be callable or None, got " +
                         type_name(v.ptr()));
  }
  return v;
}

std::uint64_t weight_arg(PyObject* v) {
  if (PyBool_Check(v) || !PyLong_Check(v)) {
    throw py::type_error(std::string("weight must be an int, got ") + type_name(v));
  }
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
  if (overflow > 0) throw py::value_error("weight is too large");
  if (overflow < 0 || n < 1) {
    throw py::value_error("weight must be an int >= 1, got " +
                          py::repr(py::handle(v)).cast<std::string>());
  }
  return static_cast<std::uint64_t>(n);
}

class PyVersionCache {
 public:
  PyVersionCache(const py::object& max_entries, const py::object& max_bytes, const py::object& ttl,
                 const py::object& policy, py::object clock, py::object on_evict,
                 const py::object& refresh_after)
      : m_clock(callable_arg(std::move(clock), "clock")),
        m_on_evict(callable_arg(std::move(on_evict), "on_evict")),
        m_cache(
            cache_type::options{limit_arg(max_entries, "max_entries", detail::nil_slot - 2),
                                limit_arg(max_bytes, "max_bytes", std::uint64_t{1} << 62),
                                ttl_arg(ttl), policy_arg(policy), refresh_after_arg(refresh_after)},
            // on_removed catches everything; a failure inside its handlers ends the process,
            // which is what noexcept should do at this C-API boundary.
            // NOLINTNEXTLINE(bugprone-exception-escape)
            seconds_clock{}, [this](cache_type::removed_entry& e) noexcept { on_removed(e); }) {}

  py::object get(PyObject* key, PyObject* fallback) {
    const key_arg k(key, "key", /*allow_int=*/true, /*lookup_only=*/true);
    auto value = m_cache.get_at(now(), k.view());
    if (value) return std::move(*value);
    return py::reinterpret_borrow<py::object>(fallback);
  }

  py::object get_fresh(PyObject* key, PyObject* fallback) {
    const key_arg k(key, "key", /*allow_int=*/true, /*lookup_only=*/true);
    auto value = m_cache.get_fresh_at(now(), k.view());
    if (value) return std::move(*value);
    return py::reinterpret_borrow<py::object>(fallback);
  }

  py::object peek(const py::handle& key, const py::object& fallback) {
    const key_arg k(key.ptr(), "key");
    auto value = m_cache.peek_at(now(), k.view());
    if (value) return std::move(*value);
    return fallback;
  }

  py::object confirm(const py::handle& key) {
    const key_arg k(key.ptr(), "key");
    auto value = m_cache.confirm_at(now(), k.view());
    return value ? std::move(*value) : py::object(py::none());
  }

  void count_miss() { m_cache.count_miss(); }

  /// put(key, value, *, weight=1, tag=None); `weight` may be null (the default).
  void put(PyObject* key, PyObject* value, PyObject* weight, PyObject* tag) {
    const key_arg k(key, "key");
    const std::uint64_t w = weight ? weight_arg(weight) : 1;
    auto t = tag_arg(py::reinterpret_borrow<py::object>(tag));
    m_cache.put_at(now(), k.owned(), py::reinterpret_borrow<py::object>(value), w, std::move(t));
  }

  py::object get_or_load(const py::handle& key, const py::object& loader, const py::object& weight,
                         const py::object& tag, bool count_wait_as_hit) {
    const key_arg k(key.ptr(), "key");
    if (!PyCallable_Check(loader.ptr())) {
      throw py::type_error("loader must be callable, got " + type_name(loader.ptr()));
    }
    std::optional<std::uint64_t> fixed_weight;
    if (weight.is_none()) {
      fixed_weight = 1;
    } else if (!PyCallable_Check(weight.ptr())) {
      fixed_weight = weight_arg(weight.ptr());
    }
    auto t = tag_arg(tag);

    cache_type::load_ticket ticket;
    try {
      ticket = m_cache.begin_load_at(now(), k.view(), std::move(t), count_wait_as_hit);
    } catch (const recursive_load_error&) {
      PyErr_Format(PyExc_RuntimeError,
                   "get_or_load(%R): the loader asked for its own key while loading it", key.ptr());
      throw py::error_already_set();
    }
    switch (ticket.kind()) {
      case cache_type::load_ticket::role::hit:
        return *ticket.value();
      case cache_type::load_ticket::role::follower: {
        {
          py::gil_scoped_release nogil;
          m_cache.wait(ticket);
        }
        if (const py::object* failure = ticket.failure()) {
          PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(failure->ptr())), failure->ptr());
          throw py::error_already_set();
        }
        return *ticket.value();
      }
      case cache_type::load_ticket::role::leader:
        break;
    }
    py::object value;
    std::uint64_t w = 0;
    try {
      value = loader();
      w = fixed_weight ? *fixed_weight : weight_arg(weight(value).ptr());
    } catch (py::error_already_set& e) {
      m_cache.fail_load(ticket, e.value());
      throw;
    } catch (py::builtin_exception& e) {
      e.set_error();
      py::error_already_set err;
      m_cache.fail_load(ticket, err.value());
      throw err;
    } catch (...) {
      m_cache.fail_load(ticket, py::reinterpret_steal<py::object>(PyObject_CallFunction(
                                    PyExc_RuntimeError, "s", "loader failed in C++")));
      throw;
    }
    m_cache.complete_load_at(now(), ticket, value, w);
    return value;
  }

  bool invalidate(const py::handle& key) {
    const key_arg k(key.ptr(), "key");
    return m_cache.invalidate_at(now(), k.view());
  }

  std::size_t invalidate_tag(const py::object& tag) {
    if (tag.is_none()) throw py::type_error("tag must be str, got NoneType");
    return m_cache.invalidate_tag_at(now(), *tag_arg(tag));
  }

  std::size_t clear() { return m_cache.clear_at(now()); }
  std::size_t purge_expired() { return m_cache.purge_expired_at(now()); }

  bool contains(const py::handle& key) {
    const key_arg k(key.ptr(), "key");
    return m_cache.contains_at(now(), k.view());
  }

  std::size_t size() { return m_cache.size_at(now()); }

  py::list keys() {
    const std::vector<py_key> snapshot = m_cache.keys_at(now());
    py::list out(snapshot.size());
    for (std::size_t i = 0; i < snapshot.size(); ++i) {
      out[i] = snapshot[i].obj;
    }
    return out;
  }

  py::dict stats() {
    const cache_stats s = m_cache.stats_at(now());
    auto opt = [](const std::optional<std::uint64_t>& v) -> py::object {
      return v ? py::object(py::int_(*v)) : py::object(py::none());
    };
    py::dict d;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    d["loads"] = s.loads;
    d["load_failures"] = s.load_failures;
    d["evictions"] = s.evictions;
    d["expirations"] = s.expirations;
    d["invalidations"] = s.invalidations;
    d["rejections"] = s.rejections;
    d["size"] = s.size;
    d["weight"] = s.weight;
    d["max_entries"] = opt(s.max_entries);
    d["max_bytes"] = opt(s.max_weight);
    return d;
  }

  py::object max_entries() const { return optional_int(m_cache.config().max_entries); }
  py::object max_bytes() const { return optional_int(m_cache.config().max_weight); }
  py::object ttl() const {
    const auto& ttl = m_cache.config().ttl;
    return ttl ? py::object(py::float_(ttl->count())) : py::object(py::none());
  }
  std::string policy() const { return std::string(to_string(m_cache.config().policy)); }
  py::object refresh_after() const {
    const auto& after = m_cache.config().refresh_after;
    return after ? py::object(py::float_(after->count())) : py::object(py::none());
  }

  /// tp_traverse: everything this object keeps alive.
  int traverse(visitproc visit, void* arg) {
    Py_VISIT(m_clock.ptr());
    Py_VISIT(m_on_evict.ptr());
    const int r = m_cache.try_visit([&](const auto& held) -> int {
      if constexpr (std::is_same_v<std::decay_t<decltype(held)>, py_key>) {
        Py_VISIT(held.obj.ptr());
      } else {
        Py_VISIT(held.ptr());
      }
      return 0;
    });
    return r < 0 ? 0 : r;
  }

  /// tp_clear: drop every reference (entries are released after the cache lock is dropped).
  void clear_references() {
    auto removed = m_cache.drain();
    m_on_evict = py::none();
    m_clock = py::none();
  }

 private:
  static py::object optional_int(const std::optional<std::uint64_t>& v) {
    return v ? py::object(py::int_(*v)) : py::object(py::none());
  }

  time_point now() {
    if (!m_cache.uses_time()) return time_point{};
    if (m_clock.is_none()) return seconds_clock::now();
    const py::object t = m_clock();
    const double seconds = seconds_arg(t.ptr(), "clock()");
    if (std::isnan(seconds)) throw py::value_error("clock() returned nan");
    return time_point(seconds_clock::duration(seconds));
  }

  // Catches everything the callback raises (reported as unraisable, as Python does for
  // finalizers); only a failure while reporting could escape, and noexcept then terminates.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  void on_removed(cache_type::removed_entry& e) noexcept {
    if (m_on_evict.is_none()) return;
    try {
      m_on_evict(e.key.obj, e.value, py::str(std::string(to_string(e.cause))));
    } catch (py::error_already_set& err) {
      err.discard_as_unraisable(m_on_evict);
    } catch (...) {
      PyErr_SetString(PyExc_RuntimeError, "on_evict failed");
      PyErr_WriteUnraisable(m_on_evict.ptr());
    }
  }

  py::object m_clock;
  py::object m_on_evict;
  cache_type m_cache;
};

PyVersionCache* cache_of(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  const auto vh = inst->get_value_and_holder(nullptr, false);
  if (!vh || !vh.holder_constructed()) return nullptr;
  return vh.value_ptr<PyVersionCache>();
}

/// Runs `f`, turning C++ exceptions into a set Python error and a null result.
template <class F>
// Every exception is caught below; setting the Python error cannot throw.
// NOLINTNEXTLINE(bugprone-exception-escape)
PyObject* translated(F&& f) noexcept {
  try {
    return f();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception in VersionCache");
  }
  return nullptr;
}

PyVersionCache* initialised_cache_of(PyObject* self) {
  PyVersionCache* cache = cache_of(self);
  if (!cache) PyErr_SetString(PyExc_TypeError, "VersionCache.__init__ was not called");
  return cache;
}

/// The key and the fallback of `name(key, default=None)` called through vectorcall; false with
/// a TypeError set for any other arguments.
bool key_and_default(const char* name, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                     PyObject*& fallback) {
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  fallback = Py_None;
  if (nargs < 1 || nargs + nkw > 2) {
    PyErr_Format(PyExc_TypeError, "%s() takes a key and an optional default (%zd given)", name,
                 nargs + nkw);
    return false;
  }
  if (nkw == 1) {
    PyObject* kw = PyTuple_GET_ITEM(kwnames, 0);
    if (PyUnicode_CompareWithASCIIString(kw, "default") != 0) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", name, kw);
      return false;
    }
    fallback = args[nargs];
  } else if (nargs == 2) {
    fallback = args[1];
  }
  return true;
}

// get(key, default=None), as a vectorcall method.
PyObject* fast_get(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  PyObject* fallback = nullptr;
  if (!key_and_default("get", args, nargs, kwnames, fallback)) return nullptr;
  PyVersionCache* cache = initialised_cache_of(self);
  if (!cache) return nullptr;
  return translated([&] { return cache->get(args[0], fallback).release().ptr(); });
}

// get_fresh(key, default=None), as a vectorcall method: DBDagBag's whole hit path.
PyObject* fast_get_fresh(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                         PyObject* kwnames) {
  PyObject* fallback = nullptr;
  if (!key_and_default("get_fresh", args, nargs, kwnames, fallback)) return nullptr;
  PyVersionCache* cache = initialised_cache_of(self);
  if (!cache) return nullptr;
  return translated([&] { return cache->get_fresh(args[0], fallback).release().ptr(); });
}

// put(key, value, *, weight=1, tag=None), as a vectorcall method: the write half of every
// miss, so it skips pybind11's dispatcher too.
PyObject* fast_put(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs != 2) {
    PyErr_Format(PyExc_TypeError,
                 "put() takes a key and a value (%zd positional arguments given); weight and tag "
                 "are keyword-only",
                 nargs);
    return nullptr;
  }
  PyObject* weight = nullptr;
  PyObject* tag = Py_None;
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    PyObject* name = PyTuple_GET_ITEM(kwnames, i);
    if (PyUnicode_CompareWithASCIIString(name, "weight") == 0) {
      weight = args[nargs + i];
    } else if (PyUnicode_CompareWithASCIIString(name, "tag") == 0) {
      tag = args[nargs + i];
    } else {
      PyErr_Format(PyExc_TypeError, "put() got an unexpected keyword argument %R", name);
      return nullptr;
    }
  }
  PyVersionCache* cache = initialised_cache_of(self);
  if (!cache) return nullptr;
  return translated([&]() -> PyObject* {
    cache->put(args[0], args[1], weight, tag);
    Py_RETURN_NONE;
  });
}

PyMethodDef fast_get_def = {
    "get", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_get)),
    METH_FASTCALL | METH_KEYWORDS,
    "get(key, default=None)\n--\n\nThe value cached under `key`, or `default` on a miss "
    "(absent or expired).\nA hit promotes the entry (lru) or counts its use (tinylfu)."};

PyMethodDef fast_get_fresh_def = {
    "get_fresh", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_get_fresh)),
    METH_FASTCALL | METH_KEYWORDS,
    "get_fresh(key, default=None)\n--\n\nThe value cached under `key` if it is fresh (stored or "
    "confirmed less than\n`refresh_after` ago), counted as a hit; else `default`, counting nothing "
    "(the\ncaller then uses peek/confirm or get_or_load, which count the lookup)."};

PyMethodDef fast_put_def = {
    "put", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_put)),
    METH_FASTCALL | METH_KEYWORDS,
    "put(key, value, *, weight=1, tag=None)\n--\n\nCache `value` under `key` with a weight "
    "(bytes, say) and an optional tag (dag_id)."};

/// Adds every object `o` refers to (its tp_traverse, as gc.get_referents) to `stack`.
int push_referent(PyObject* o, void* stack) {
  static_cast<std::vector<py::object>*>(stack)->push_back(py::reinterpret_borrow<py::object>(o));
  return 0;
}

bool is_shared(PyObject* o, const std::vector<PyTypeObject*>& shared) noexcept {
  if (o == Py_None || o == Py_True || o == Py_False) return true;
  return std::any_of(shared.begin(), shared.end(),
                     [o](PyTypeObject* t) { return PyObject_TypeCheck(o, t) != 0; });
}

/// sys.getsizeof summed over `root` and everything reachable from it, each object once, not
/// entering instances of `shared` (a tuple of types) nor None/True/False. What
/// dagcore.db_dagbag.retained_bytes computes in Python, about ten times faster: the visited
/// objects are held (strong references) until the walk ends, so a __sizeof__ written in Python
/// cannot free one under it.
std::uint64_t retained_bytes(const py::handle& root, const py::tuple& shared_types) {
  std::vector<PyTypeObject*> shared;
  for (const py::handle t : shared_types) {
    if (!PyType_Check(t.ptr())) {
      throw py::type_error("shared_types must hold types, got " + type_name(t.ptr()));
    }
    shared.push_back(reinterpret_cast<PyTypeObject*>(t.ptr()));
  }
  tsl::robin_set<PyObject*> seen;
  std::vector<py::object> held;
  std::vector<py::object> stack{py::reinterpret_borrow<py::object>(root)};
  std::uint64_t total = 0;
  while (!stack.empty()) {
    py::object o = std::move(stack.back());
    stack.pop_back();
    if (is_shared(o.ptr(), shared) || !seen.insert(o.ptr()).second) continue;
    const std::size_t size = _PySys_GetSizeOf(o.ptr());
    if (size == static_cast<std::size_t>(-1) && PyErr_Occurred()) throw py::error_already_set();
    total += size;
    PyObject* p = o.ptr();
    held.push_back(std::move(o));
    if (PyObject_IS_GC(p) && Py_TYPE(p)->tp_traverse) {
      Py_TYPE(p)->tp_traverse(p, push_referent, &stack);
    }
  }
  return total;
}

}  // namespace

void register_cache(py::module_& m) {
  m.def("retained_bytes", &retained_bytes, py::arg("root"), py::arg("shared_types"),
        "sys.getsizeof summed over root and every object reachable from it, once each, not "
        "entering instances of shared_types (nor None, True, False).");
  py::class_<PyVersionCache> cls(
      m, "VersionCache", py::custom_type_setup([](PyHeapTypeObject* heap_type) {
        PyTypeObject* type = &heap_type->ht_type;
        type->tp_flags |= Py_TPFLAGS_HAVE_GC;
        type->tp_traverse = [](PyObject* self, visitproc visit, void* arg) -> int {
          Py_VISIT(Py_TYPE(self));
          PyVersionCache* cache = cache_of(self);
          return cache ? cache->traverse(visit, arg) : 0;
        };
        type->tp_clear = [](PyObject* self) -> int {
          if (PyVersionCache* cache = cache_of(self)) cache->clear_references();
          return 0;
        };
      }));
  cls.doc() = "Bounded, thread-safe cache of DAG versions (see dagcore.cache.VersionCache).";
  cls.def(py::init<const py::object&, const py::object&, const py::object&, const py::object&,
                   py::object, py::object, const py::object&>(),
          py::arg("max_entries") = 4096, py::arg("max_bytes") = py::none(),
          py::arg("ttl") = py::none(), py::arg("policy") = "lru", py::arg("clock") = py::none(),
          py::arg("on_evict") = py::none(), py::arg("refresh_after") = py::none())
      .def("get_or_load", &PyVersionCache::get_or_load, py::arg("key"), py::arg("loader"),
           py::kw_only(), py::arg("weight") = py::none(), py::arg("tag") = py::none(),
           py::arg("count_wait_as_hit") = false,
           "The cached value, or loader() run once for all concurrent callers and cached.")
      .def("peek", &PyVersionCache::peek, py::arg("key"), py::arg("default") = py::none(),
           "The live value under `key`, fresh or stale, without counting or promoting it.")
      .def("confirm", &PyVersionCache::confirm, py::arg("key"),
           "The caller checked the entry against its source: fresh again from now (the TTL is "
           "not re-armed), counted as a hit. Returns its value, or None if it is gone.")
      .def("count_miss", &PyVersionCache::count_miss,
           "Count a miss for a lookup answered without the cache (the key does not exist).")
      .def("invalidate", &PyVersionCache::invalidate, py::arg("key"),
           "Remove `key`; True if it was cached.")
      .def("invalidate_tag", &PyVersionCache::invalidate_tag, py::arg("tag"),
           "Remove every entry put with this tag; returns how many.")
      .def("clear", &PyVersionCache::clear, "Remove every entry; returns how many.")
      .def("purge_expired", &PyVersionCache::purge_expired,
           "Drop entries older than the TTL now; returns how many.")
      .def("keys", &PyVersionCache::keys, "A snapshot list of the live keys.")
      .def("__len__", &PyVersionCache::size)
      .def("__contains__", &PyVersionCache::contains, py::arg("key"))
      .def("_stats", &PyVersionCache::stats)
      .def_property_readonly("max_entries", &PyVersionCache::max_entries)
      .def_property_readonly("max_bytes", &PyVersionCache::max_bytes)
      .def_property_readonly("ttl", &PyVersionCache::ttl)
      .def_property_readonly("policy", &PyVersionCache::policy)
      .def_property_readonly("refresh_after", &PyVersionCache::refresh_after);

  init_uuid_support();
  for (PyMethodDef* def : {&fast_get_def, &fast_get_fresh_def, &fast_put_def}) {
    PyObject* method = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), def);
    if (!method) throw py::error_already_set();
    cls.attr(def->ml_name) = py::reinterpret_steal<py::object>(method);
  }
}

}  // namespace dagcore::bindings
