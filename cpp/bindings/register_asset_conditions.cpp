// Python binding of the asset-condition engine: _core.AssetConditionSet. dagcore.asset_conditions
// wraps it; the Python layer turns Airflow's serialized conditions into the prefix description
// and owns the mapping between DAG keys and condition indexes.
//
// Arrays cross either as buffers read in place (array('q'), a memoryview of int64, bytes for
// the node kinds) or as sequences of ints converted here. GIL: every argument is converted or
// its buffer acquired with the GIL held; the engine runs with it released; the result lists are
// built afterwards.
//
// ready_pairs reads the scheduler's queue rows as the database driver returns them (a list of
// (dag_id, asset_id) tuples, sorted by DAG, a new str per row; docs/airflow-behaviour.md 12.7):
// a row's key is compared with the previous row's, else found by content in an AssetKeyTable
// (built once per compiled set, with its own copy of the keys' bytes), else in the dict; each
// pair is marked as it is read (condition_set::evaluation) and the conditions run without the
// GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dagcore/asset_conditions.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace dagcore::bindings {
namespace {

using assets::condition_set;

/// The item format of a buffer without its byte-order prefix.
std::string bare_format(const char* format) {
  std::string f = format == nullptr ? "B" : format;
  if (!f.empty() && (f[0] == '@' || f[0] == '=' || f[0] == '<')) f.erase(0, 1);
  return f;
}

/// A read-only array of T from a C-contiguous buffer of matching items, or converted from a
/// sequence of ints.
template <class T>
class array_input {
 public:
  array_input(const py::handle& obj, const char* what) {
    if (PyObject_CheckBuffer(obj.ptr()) != 0 &&
        PyObject_GetBuffer(obj.ptr(), &m_view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0) {
      m_has_view = true;
      const std::string f = bare_format(m_view.format);
      const bool ok = static_cast<std::size_t>(m_view.itemsize) == sizeof(T) &&
                      (sizeof(T) == 1 ? (f == "B" || f == "b" || f == "c")
                                      : (f == "q" || (f == "l" && sizeof(long) == sizeof(T))));
      if (!ok) {
        PyBuffer_Release(&m_view);
        m_has_view = false;
        throw py::type_error(std::string(what) + ": a buffer of " +
                             (sizeof(T) == 1 ? "bytes" : "signed 64-bit integers ('q')") +
                             " is needed, got items of format '" + f + "'");
      }
      return;
    }
    PyErr_Clear();
    try {
      m_copy = obj.cast<std::vector<T>>();
    } catch (const py::cast_error&) {
      throw py::type_error(std::string(what) + " must be a sequence of ints in range or an " +
                           "int64 buffer, got " + Py_TYPE(obj.ptr())->tp_name);
    }
  }
  array_input(const array_input&) = delete;
  array_input& operator=(const array_input&) = delete;
  array_input(array_input&&) = delete;
  array_input& operator=(array_input&&) = delete;
  ~array_input() {
    if (m_has_view) PyBuffer_Release(&m_view);
  }

  [[nodiscard]] std::span<const T> span() const noexcept {
    if (m_has_view) {
      return {static_cast<const T*>(m_view.buf), static_cast<std::size_t>(m_view.len) / sizeof(T)};
    }
    return m_copy;
  }

 private:
  Py_buffer m_view{};
  bool m_has_view = false;
  std::vector<T> m_copy;
};

std::string repr(const py::handle& o) { return py::repr(o).cast<std::string>(); }

/// Whether n bytes at p and q are equal. Keys are short (DAG ids): an inline compare of two
/// overlapping 8-byte words beats a call to memcmp.
bool equal_bytes(const unsigned char* p, const unsigned char* q, std::size_t n) noexcept {
  if (n >= 8 && n <= 16) {
    std::uint64_t p0 = 0;
    std::uint64_t q0 = 0;
    std::uint64_t p1 = 0;
    std::uint64_t q1 = 0;
    std::memcpy(&p0, p, 8);
    std::memcpy(&q0, q, 8);
    std::memcpy(&p1, p + n - 8, 8);
    std::memcpy(&q1, q + n - 8, 8);
    return p0 == q0 && p1 == q1;
  }
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i) {
      if (p[i] != q[i]) return false;
    }
    return true;
  }
  return std::memcmp(p, q, n) == 0;
}

/// The code units of an exact str: its data, its size in bytes, its kind (1, 2 or 4).
struct str_bytes {
  const unsigned char* data;
  std::size_t size;
  int kind;
};

str_bytes bytes_of(PyObject* s) noexcept {
  const int kind = PyUnicode_KIND(s);
  return {static_cast<const unsigned char*>(PyUnicode_DATA(s)),
          static_cast<std::size_t>(PyUnicode_GET_LENGTH(s)) * static_cast<std::size_t>(kind), kind};
}

/// Whether two exact str objects have equal content.
bool equal_str(PyObject* a, PyObject* b) noexcept {
  const str_bytes x = bytes_of(a);
  const str_bytes y = bytes_of(b);
  return x.size == y.size && x.kind == y.kind && equal_bytes(x.data, y.data, x.size);
}

/// Whether two dict keys are the same key: the same object, or two exact str objects of equal
/// content (what a dict lookup would find equal; other types always take the lookup).
bool same_key(PyObject* a, PyObject* b) noexcept {
  if (a == b) return true;
  return PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b) && equal_str(a, b);
}

/// The str keys of a compiled set (a tuple, index = condition index) in an open-addressing table
/// hashed by content, a word at a time: a key object a database driver has just made has no cached
/// hash, and str's SipHash costs more than this lookup. Keys that are not exact str are not in
/// it; find() then answers -1 and the caller asks the dict.
class key_table {
 public:
  explicit key_table(py::tuple keys) : m_keys(std::move(keys)) {
    const auto n = static_cast<std::size_t>(PyTuple_GET_SIZE(m_keys.ptr()));
    std::size_t capacity = 8;
    while (capacity < 2 * n) capacity *= 2;
    m_slots.assign(capacity, slot{});
    m_mask = capacity - 1;
    for (std::size_t i = 0; i < n; ++i) {
      PyObject* key = PyTuple_GET_ITEM(m_keys.ptr(), static_cast<Py_ssize_t>(i));
      if (!PyUnicode_CheckExact(key)) continue;
      const str_bytes b = bytes_of(key);
      const std::uint64_t h = hash(b);
      std::size_t at = h & m_mask;
      while (m_slots[at].index >= 0) at = (at + 1) & m_mask;
      m_slots[at] = slot{h, static_cast<std::int64_t>(i), m_bytes.size(), b.size, b.kind};
      m_bytes.insert(m_bytes.end(), b.data, b.data + b.size);
    }
  }

  /// The condition index of `key`, or -1 (not an exact str, or not a key). The keys' bytes
  /// are compared in the table's own buffer (a few KiB, warm), not in the key objects.
  [[nodiscard]] std::int64_t find(PyObject* key) const noexcept {
    if (!PyUnicode_CheckExact(key)) return -1;
    const str_bytes b = bytes_of(key);
    const std::uint64_t h = hash(b);
    const unsigned char* arena = m_bytes.data();
    for (std::size_t at = h & m_mask;; at = (at + 1) & m_mask) {
      const slot& s = m_slots[at];
      if (s.index < 0) return -1;
      if (s.hash == h && s.size == b.size && s.kind == b.kind &&
          equal_bytes(b.data, arena + s.offset, b.size)) {
        return s.index;
      }
    }
  }

  [[nodiscard]] const py::tuple& keys() const noexcept { return m_keys; }

 private:
  struct slot {
    std::uint64_t hash = 0;
    std::int64_t index = -1;  // -1: empty
    std::size_t offset = 0;   // the key's bytes in m_bytes
    std::size_t size = 0;
    int kind = 0;
  };

  // A word at a time (DAG ids are short): two multiplies for a 13-character id, where a
  // byte-wise hash is one dependent multiply per character.
  static std::uint64_t hash(const str_bytes& b) noexcept {
    constexpr std::uint64_t mul = 0x9E3779B97F4A7C15ULL;
    const std::size_t n = b.size;
    const unsigned char* p = b.data;
    std::uint64_t h = (n * mul) ^ static_cast<std::uint64_t>(b.kind);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, p + i, 8);
      h = (h ^ w) * mul;
      h ^= h >> 29U;
    }
    if (i < n) {
      std::uint64_t w = 0;
      for (std::size_t j = 0; i + j < n; ++j) w |= static_cast<std::uint64_t>(p[i + j]) << (8 * j);
      h = (h ^ w) * mul;
      h ^= h >> 29U;
    }
    return h;
  }

  py::tuple m_keys;  // keeps the key objects alive
  std::vector<slot> m_slots;
  std::vector<unsigned char> m_bytes;  // every str key's code units, back to back
  std::size_t m_mask = 0;
};

/// Whether `o` is an exact int of at most one internal digit (0 .. 2**30 - 1, every asset id
/// in practice), read without a call; `value` gets it. Anything else takes PyLong's API.
bool small_int(PyObject* o, long long& value) noexcept {
  if (!PyLong_CheckExact(o)) return false;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): PyLong_CheckExact above
  auto* l = reinterpret_cast<PyLongObject*>(o);
#if PY_VERSION_HEX >= 0x030C0000
  if (PyUnstable_Long_IsCompact(l) == 0) return false;
  value = static_cast<long long>(PyUnstable_Long_CompactValue(l));
  return true;
#else
  const Py_ssize_t size = Py_SIZE(o);
  if (size == 0) {
    value = 0;
    return true;
  }
  if (size != 1) return false;
  value = static_cast<long long>(l->ob_digit[0]);
  return true;
#endif
}

/// The list [keys[i] for i in ready], built without a Python loop; `seen[i]`, when set, is an
/// exact str equal to keys[i] (a row's own key, warm in cache where keys[i] is not), given
/// instead.
py::list keys_of(const std::vector<assets::condition_set::index_type>& ready, const py::tuple& keys,
                 const std::vector<PyObject*>* seen = nullptr) {
  const auto n_keys = static_cast<std::size_t>(PyTuple_GET_SIZE(keys.ptr()));
  py::list out(ready.size());
  for (std::size_t i = 0; i < ready.size(); ++i) {
    if (ready[i] >= n_keys) {
      throw py::index_error("condition index " + std::to_string(ready[i]) + " has no key (" +
                            std::to_string(n_keys) + " keys)");
    }
    PyObject* key = seen != nullptr ? (*seen)[ready[i]] : nullptr;
    if (key == nullptr) key = PyTuple_GET_ITEM(keys.ptr(), static_cast<Py_ssize_t>(ready[i]));
    Py_INCREF(key);
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), key);
  }
  return out;
}

/// The ready DAG keys for a list or tuple of (dag key, asset id) pairs: the keys are looked up
/// in `index` (key -> condition index) here, so the scheduler's rows need no Python loop.
py::list ready_pairs(const condition_set& s, const py::handle& pairs, const py::dict& index,
                     const py::tuple& keys, const key_table* table) {
  if (!PyList_Check(pairs.ptr()) && !PyTuple_Check(pairs.ptr())) {
    throw py::type_error(
        "queued pairs must be a list or tuple of (dag key, asset id) tuples, "
        "got " +
        std::string(Py_TYPE(pairs.ptr())->tp_name));
  }
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(pairs.ptr());
  PyObject** items = PySequence_Fast_ITEMS(pairs.ptr());
  const std::size_t n_dags = s.size();
  // The pairs are marked as they are read (no intermediate arrays); the programs run after,
  // without the GIL.
  condition_set::evaluation evaluation(s);
  std::vector<PyObject*> row_keys(n_dags, nullptr);  // borrowed: a str row key per DAG
  // The scheduler's rows come sorted by DAG (ORDER BY target_dag_id), each DAG with a few rows,
  // and a database driver makes a new str object per row: comparing a key with the previous
  // row's (identity, else length and bytes) is cheaper than hashing it for the dict lookup.
  PyObject* previous_key = nullptr;
  condition_set::index_type previous_index = 0;
  for (Py_ssize_t k = 0; k < n; ++k) {
    PyObject* item = items[k];
    PyObject* key = nullptr;
    PyObject* asset = nullptr;
    if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2) {  // a driver's row
      key = PyTuple_GET_ITEM(item, 0);
      asset = PyTuple_GET_ITEM(item, 1);
    } else if ((PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2) ||
               (PyList_Check(item) && PyList_GET_SIZE(item) == 2)) {
      key = PySequence_Fast_ITEMS(item)[0];
      asset = PySequence_Fast_ITEMS(item)[1];
    } else {
      throw py::type_error("queued pairs must be (dag key, asset id) tuples, got " + repr(item) +
                           " at position " + std::to_string(k));
    }
    if (previous_key == nullptr || !same_key(key, previous_key)) {
      long long d = table != nullptr ? table->find(key) : -1;
      if (d < 0) {  // not a str key of the table: the dict decides (and names a missing key)
        PyObject* found = PyDict_GetItemWithError(index.ptr(), key);
        if (found == nullptr) {
          if (PyErr_Occurred() != nullptr) throw py::error_already_set();
          throw py::value_error("queued pair for DAG " + repr(key) +
                                ", which has no asset condition");
        }
        d = PyLong_AsLongLong(found);
        if (d == -1 && PyErr_Occurred() != nullptr) throw py::error_already_set();
      }
      if (d < 0 || static_cast<std::uint64_t>(d) >= n_dags) {
        throw py::value_error("pair " + std::to_string(k) + ": DAG index " + std::to_string(d) +
                              " is out of range (" + std::to_string(n_dags) + " conditions)");
      }
      previous_index = static_cast<condition_set::index_type>(d);
      previous_key = key;  // borrowed: `pairs` holds it for the whole loop
      if (PyUnicode_CheckExact(key)) row_keys[previous_index] = key;
    }
    long long id = 0;
    if (!small_int(asset, id)) {
      if (!PyLong_Check(asset) || PyBool_Check(asset)) {
        throw py::type_error("queued pair " + repr(item) + ": the asset id must be an int");
      }
      int overflow = 0;
      id = PyLong_AsLongLongAndOverflow(asset, &overflow);
      if (overflow != 0) {
        throw py::value_error("queued pair " + repr(item) + ": asset id out of range");
      }
    }
    if (id < 0) {
      throw py::value_error("pair " + std::to_string(k) + ": negative asset id " +
                            std::to_string(id));
    }
    evaluation.mark(previous_index, id);
  }
  if (PyErr_Occurred() != nullptr) throw py::error_already_set();
  std::vector<condition_set::index_type> ready;
  {
    py::gil_scoped_release nogil;
    ready = evaluation.result();
  }
  return keys_of(ready, keys, &row_keys);
}

condition_set make_set(const py::handle& kinds, const py::handle& values,
                       const std::vector<std::size_t>& offsets) {
  const array_input<std::uint8_t> k(kinds, "kinds");
  const array_input<std::int64_t> v(values, "values");
  py::gil_scoped_release nogil;
  return {k.span(), v.span(), offsets};
}

}  // namespace

void register_asset_conditions(py::module_& m) {
  py::class_<key_table>(m, "AssetKeyTable",
                        "The str keys of a tuple (index = position), looked up by content "
                        "without str's hash (AssetConditionSet.ready_pairs takes it).")
      .def(py::init<py::tuple>(), py::arg("keys"))
      .def(
          "find", [](const key_table& t, const py::handle& key) { return t.find(key.ptr()); },
          py::arg("key"), "The position of a str key, or -1.");
  py::class_<condition_set>(m, "AssetConditionSet",
                            "Asset conditions compiled for bulk evaluation "
                            "(dagcore.asset_conditions.AssetConditions wraps it).")
      .def(py::init(&make_set), py::arg("kinds"), py::arg("values"), py::arg("offsets"),
           "Condition i is nodes [offsets[i], offsets[i + 1]) in prefix order: kinds 0 = leaf "
           "(value: asset id), 1 = all, 2 = any (value: child count). ValueError on bad "
           "structure, naming the condition and node.")
      .def("__len__", &condition_set::size)
      .def(
          "ready",
          [](const condition_set& s, const py::handle& dags, const py::handle& asset_ids) {
            const array_input<std::int64_t> d(dags, "dags");
            const array_input<std::int64_t> a(asset_ids, "assets");
            std::vector<condition_set::index_type> out;
            {
              py::gil_scoped_release nogil;
              out = s.ready(d.span(), a.span());
            }
            return out;
          },
          py::arg("dags"), py::arg("assets"),
          "Indexes (sorted) of the conditions that hold for the queued pairs "
          "(dags[k], assets[k]); int64 buffers or sequences of ints.")
      .def("ready_pairs", &ready_pairs, py::arg("pairs"), py::arg("index"), py::arg("keys"),
           py::arg("table") = nullptr,
           "The keys (keys[i] for the ready condition indexes i, ascending) for a list or tuple "
           "of (dag key, asset id) pairs; index maps a key to its condition index; table (an "
           "AssetKeyTable of the same keys, optional) finds str keys faster.")
      .def(
          "missing",
          [](const condition_set& s, std::int64_t dag, const py::handle& queued) {
            const array_input<std::int64_t> q(queued, "queued");
            return s.missing(dag, q.span());
          },
          py::arg("dag"), py::arg("queued"),
          "The asset ids (sorted) of condition `dag`'s leaves that are not in `queued`.")
      .def(
          "assets",
          [](const condition_set& s, std::int64_t dag) {
            if (dag < 0 || static_cast<std::size_t>(dag) >= s.size()) {
              throw py::index_error("DAG index " + std::to_string(dag) + " is out of range (" +
                                    std::to_string(s.size()) + " conditions)");
            }
            const auto row = s.assets(static_cast<condition_set::index_type>(dag));
            return std::vector<std::int64_t>(row.begin(), row.end());
          },
          py::arg("dag"), "The distinct asset ids (sorted) of condition `dag`'s leaves.");
}

}  // namespace dagcore::bindings
