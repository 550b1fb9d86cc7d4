// Python binding of the asset-condition engine: _core.AssetConditionSet. dagcore.asset_conditions
// wraps it; the Python layer turns Airflow's serialized conditions into the prefix description
// and owns the mapping between DAG keys and condition indexes.
//
// Arrays cross either as buffers read in place (array('q'), a memoryview of int64, bytes for
// the node kinds) or as sequences of ints converted here. GIL: every argument is converted or
// its buffer acquired with the GIL held; the engine runs with it released; the result lists are
// built afterwards.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
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
      return {static_cast<const T*>(m_view.buf),
              static_cast<std::size_t>(m_view.len) / sizeof(T)};
    }
    return m_copy;
  }

 private:
  Py_buffer m_view{};
  bool m_has_view = false;
  std::vector<T> m_copy;
};

condition_set make_set(const py::handle& kinds, const py::handle& values,
                       const std::vector<std::size_t>& offsets) {
  const array_input<std::uint8_t> k(kinds, "kinds");
  const array_input<std::int64_t> v(values, "values");
  py::gil_scoped_release nogil;
  return {k.span(), v.span(), offsets};
}

}  // namespace

void register_asset_conditions(py::module_& m) {
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
