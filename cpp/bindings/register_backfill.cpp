// Python binding of backfill planning: _core.plan_backfill (a C++ timetable, one call),
// _core.validate_backfill + _core.plan_backfill_infos (run infos of a timetable written in
// Python), _core.BackfillPlan (the columnar result) and the validation errors, each a
// ValueError subclass named as Airflow's. dagcore.backfill wraps them.
//
// existing_runs crosses once: a dict (logical_date -> state) or an iterable of
// (logical_date, state) pairs, states as DagRunState members or their string values; it becomes
// a sorted C++ index, so no Python code runs per planned date. Argument errors (types, naive
// datetimes, unknown names) are raised before Airflow's validation chain runs.
//
// GIL: arguments are converted first, the plan is computed with the GIL released, Python
// objects are built afterwards. BackfillPlan.entries builds the public records (frozen slots
// dataclasses owned by the Python layer, passed in as types) without running their __init__:
// each field is stored through its slot descriptor, and a datetime is shared between fields and
// neighbouring entries that hold the same instant (datetimes are immutable).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dagcore/backfill.hpp"
#include "dagcore/timetable.hpp"
#include "datetime_convert.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace dagcore::bindings {
namespace {

// The Python class of invalid_backfill_date_range, owned by the module (set at registration).
PyObject* date_range_error_type = nullptr;

std::string type_name_of(const py::handle& o) { return Py_TYPE(o.ptr())->tp_name; }

std::string repr_of(const py::handle& o) { return py::repr(o).cast<std::string>(); }

template <std::size_t N>
std::string joined(const std::array<std::string_view, N>& names) {
  std::string out;
  for (const std::string_view name : names) {
    if (name.empty()) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

/// The UTF-8 text of a str (or str subclass, such as a str enum member: its value).
std::optional<std::string_view> str_view(const py::handle& value) {
  if (!PyUnicode_Check(value.ptr())) return std::nullopt;
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(value.ptr(), &size);
  if (data == nullptr) throw py::error_already_set();
  return std::string_view(data, static_cast<std::size_t>(size));
}

reprocess_behavior reprocess_arg(const py::handle& value) {
  const std::optional<std::string_view> text = str_view(value);
  if (!text) {
    throw py::type_error("reprocess_behavior must be a ReprocessBehavior or a str, got " +
                         type_name_of(value));
  }
  const std::optional<reprocess_behavior> r = parse_reprocess_behavior(*text);
  if (!r) {
    throw py::value_error("reprocess_behavior must be one of " + joined(reprocess_behavior_names) +
                          ", got " + repr_of(value));
  }
  return *r;
}

existing_run run_arg(const py::handle& date, const py::handle& state) {
  const instant logical_date = to_instant(date, "existing_runs logical date");
  const std::optional<std::string_view> text = str_view(state);
  if (!text) {
    throw py::type_error("existing_runs: the state of the run at " +
                         py::str(date).cast<std::string>() +
                         " must be a DagRunState or a str, got " + type_name_of(state));
  }
  const std::optional<dagrun_state> s = parse_dagrun_state(*text);
  if (!s) {
    throw py::value_error("existing_runs: " + repr_of(state) + " (the run at " +
                          py::str(date).cast<std::string>() +
                          ") is not a DagRunState; expected one of " + joined(dagrun_state_names));
  }
  return {logical_date, *s};
}

/// A dict {logical_date: state} or an iterable of (logical_date, state) pairs.
std::vector<existing_run> existing_runs_arg(const py::handle& runs) {
  std::vector<existing_run> out;
  if (PyDict_Check(runs.ptr())) {
    out.reserve(static_cast<std::size_t>(PyDict_Size(runs.ptr())));
    Py_ssize_t pos = 0;
    PyObject* key = nullptr;
    PyObject* value = nullptr;
    while (PyDict_Next(runs.ptr(), &pos, &key, &value)) {
      // Own both while converting: a tzinfo's utcoffset is Python code.
      const auto k = py::reinterpret_borrow<py::object>(key);
      const auto v = py::reinterpret_borrow<py::object>(value);
      out.push_back(run_arg(k, v));
    }
    return out;
  }
  if (PyUnicode_Check(runs.ptr()) || PyBytes_Check(runs.ptr())) {
    throw py::type_error(
        "existing_runs must be a mapping or an iterable of (logical_date, state) "
        "pairs, got " +
        type_name_of(runs));
  }
  PyObject* iterator = PyObject_GetIter(runs.ptr());
  if (iterator == nullptr) {
    PyErr_Clear();
    throw py::type_error(
        "existing_runs must be a mapping or an iterable of (logical_date, state) "
        "pairs, got " +
        type_name_of(runs));
  }
  const auto it = py::reinterpret_steal<py::object>(iterator);
  const Py_ssize_t hint = PyObject_LengthHint(runs.ptr(), 0);
  if (hint < 0) throw py::error_already_set();
  out.reserve(static_cast<std::size_t>(hint));
  std::size_t index = 0;
  while (PyObject* raw = PyIter_Next(it.ptr())) {
    const auto item = py::reinterpret_steal<py::object>(raw);
    if (PyTuple_Check(raw) && PyTuple_GET_SIZE(raw) == 2) {
      out.push_back(run_arg(PyTuple_GET_ITEM(raw, 0), PyTuple_GET_ITEM(raw, 1)));
    } else if (PySequence_Check(raw) && !PyUnicode_Check(raw) && PySequence_Size(raw) == 2) {
      const auto date = py::reinterpret_steal<py::object>(PySequence_GetItem(raw, 0));
      const auto state = py::reinterpret_steal<py::object>(PySequence_GetItem(raw, 1));
      if (!date || !state) throw py::error_already_set();
      out.push_back(run_arg(date, state));
    } else {
      if (PyErr_Occurred()) PyErr_Clear();  // PySequence_Size on a non-sized sequence
      throw py::type_error("existing_runs item " + std::to_string(index) +
                           " must be a (logical_date, state) pair, got " + repr_of(item));
    }
    ++index;
  }
  if (PyErr_Occurred()) throw py::error_already_set();
  return out;
}

backfill_params params_arg(const py::handle& from_date, const py::handle& to_date,
                           const py::handle& reprocess, bool run_backwards, bool depends_on_past,
                           std::uint64_t max_runs, const std::optional<std::string>& dag_id) {
  backfill_params p;
  p.from_date = to_instant(from_date, "from_date");
  p.to_date = to_instant(to_date, "to_date");
  p.reprocess = reprocess_arg(reprocess);
  p.run_backwards = run_backwards;
  p.depends_on_past = depends_on_past;
  p.max_runs = max_runs;
  p.dag_id = dag_id.value_or("");
  return p;
}

/// Runs `fn` (plan or validate) without the GIL; the range error is reworded with the
/// caller's datetimes as str() writes them (Airflow's message shows the dates as given).
template <class Fn>
auto without_gil(const py::handle& from_date, const py::handle& to_date, Fn&& fn) {
  try {
    py::gil_scoped_release nogil;
    return fn();
  } catch (const invalid_backfill_date_range&) {
    PyErr_Format(date_range_error_type, "from_date (%S) must not be after to_date (%S)",
                 from_date.ptr(), to_date.ptr());
    throw py::error_already_set();
  }
}

// ---------------------------------------------------------------------------------------------
// building the Python records

/// Creates instances of a slots class without calling __init__: each field is stored through
/// its member descriptor (what object.__setattr__ would reach, minus a frozen dataclass's
/// __setattr__ and the per-call attribute lookup).
class slots_record {
 public:
  slots_record(const py::handle& type, std::initializer_list<const char*> fields) {
    if (!PyType_Check(type.ptr())) {
      throw py::type_error("expected a class, got " + type_name_of(type));
    }
    m_type = reinterpret_cast<PyTypeObject*>(type.ptr());
    if (m_type->tp_new == nullptr) {
      throw py::type_error(std::string(m_type->tp_name) + " cannot be instantiated");
    }
    for (const char* field : fields) {
      py::object descr = type.attr(field);
      if (!Py_IS_TYPE(descr.ptr(), &PyMemberDescr_Type)) {
        throw py::type_error(std::string(m_type->tp_name) + "." + field +
                             " is not a slot (the class must be a slots dataclass)");
      }
      m_descrs.push_back(std::move(descr));
    }
  }

  /// A new instance with `values` stored in the fields' order (borrowed references).
  [[nodiscard]] py::object make(std::initializer_list<PyObject*> values) const {
    auto obj = py::reinterpret_steal<py::object>(m_type->tp_new(m_type, m_no_args.ptr(), nullptr));
    if (!obj) throw py::error_already_set();
    auto descr = m_descrs.begin();
    for (PyObject* value : values) {
      PyObject* d = descr->ptr();
      if (Py_TYPE(d)->tp_descr_set(d, obj.ptr(), value) < 0) throw py::error_already_set();
      ++descr;
    }
    return obj;
  }

 private:
  PyTypeObject* m_type = nullptr;
  std::vector<py::object> m_descrs;
  py::tuple m_no_args;
};

/// Datetimes of the last few instants converted, so that equal instants share one object.
class datetime_reuse {
 public:
  PyObject* get(instant t) {
    for (const auto& [at, obj] : m_slots) {
      if (obj && at == t) return obj.ptr();
    }
    auto& slot = m_slots[m_next];
    m_next = (m_next + 1) % m_slots.size();
    slot = {t, to_datetime(t)};
    return slot.second.ptr();
  }

 private:
  std::array<std::pair<instant, py::object>, 4> m_slots{};
  std::size_t m_next = 0;
};

/// One Python object per code of an enum column (e.g. the str enum members).
template <std::size_t N>
std::array<py::object, N> code_objects(const py::handle& seq, const char* what) {
  const auto s = py::reinterpret_borrow<py::sequence>(seq);
  if (s.size() != N) {
    throw py::value_error(std::string(what) + " must hold " + std::to_string(N) + " objects, got " +
                          std::to_string(s.size()));
  }
  std::array<py::object, N> out;
  for (std::size_t i = 0; i < N; ++i) out[i] = s[i];
  return out;
}

/// Keeps the cyclic GC off while a bulk result is built: every object created is acyclic and
/// owned by the result, so collections during the build would only traverse them again and
/// again (the build runs no Python code and never releases the GIL, so nothing else is
/// affected). Restores the previous state.
class gc_pause {
 public:
  gc_pause() : m_was_enabled(PyGC_Disable() != 0) {}
  ~gc_pause() {
    if (m_was_enabled) PyGC_Enable();
  }
  gc_pause(const gc_pause&) = delete;
  gc_pause& operator=(const gc_pause&) = delete;

 private:
  bool m_was_enabled;
};

py::list entries(const backfill_plan& plan, py::ssize_t start, py::ssize_t stop,
                 const py::handle& entry_type, const py::handle& info_type,
                 const py::handle& interval_type, const py::handle& action_objects,
                 const py::handle& reason_objects) {
  const auto n = static_cast<py::ssize_t>(plan.size());
  if (start < 0 || stop > n || start > stop) {
    throw py::index_error("BackfillPlan.entries: range [" + std::to_string(start) + ", " +
                          std::to_string(stop) + ") is outside [0, " + std::to_string(n) + ")");
  }
  const slots_record entry(entry_type,
                           {"sort_ordinal", "info", "logical_date", "action", "reason"});
  const slots_record info(info_type, {"run_after", "data_interval"});
  const slots_record interval(interval_type, {"start", "end"});
  const auto actions = code_objects<backfill_action_count>(action_objects, "actions");
  const auto reasons = code_objects<backfill_skip_reason_count>(reason_objects, "reasons");

  const run_info_batch& infos = plan.infos();
  const gc_pause no_gc;
  datetime_reuse datetimes;
  py::list out(static_cast<std::size_t>(stop - start));
  for (py::ssize_t i = start; i < stop; ++i) {
    const auto u = static_cast<std::size_t>(i);
    PyObject* run_after = datetimes.get(infos.run_afters()[u]);
    PyObject* begin = datetimes.get(infos.starts()[u]);
    PyObject* end = datetimes.get(infos.ends()[u]);
    const auto ordinal = py::reinterpret_steal<py::object>(PyLong_FromSsize_t(i + 1));
    if (!ordinal) throw py::error_already_set();
    const py::object di = interval.make({begin, end});
    const py::object ri = info.make({run_after, di.ptr()});
    py::object e = entry.make({ordinal.ptr(), ri.ptr(), begin,
                               actions[static_cast<std::size_t>(plan.actions()[u])].ptr(),
                               reasons[static_cast<std::size_t>(plan.reasons()[u])].ptr()});
    PyList_SET_ITEM(out.ptr(), i - start, e.release().ptr());
  }
  return out;
}

// Two decimal digits of `v` (0..99) at `p`.
inline void two_digits(char* p, std::int64_t v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// Formats instants (UTC, years 1..9999) as "YYYY-MM-DD<sep>HH:MM:SS", then ".ffffff" when
// `always_micros` or the microseconds are not 0, then "+00:00" when `offset`: with 'T', no
// forced micros and the offset, Python's isoformat() of an aware UTC datetime; with ' ', forced
// micros and no offset, SQLAlchemy's SQLite DATETIME text. The date part is computed once per
// day (consecutive instants mostly share it).
class utc_text {
 public:
  utc_text(char sep, bool always_micros, bool offset)
      : sep_(sep), always_micros_(always_micros), offset_(offset) {}

  void append(std::string& out, instant t) {
    const std::int64_t day = (t >= 0 ? t : t - micros_per_day + 1) / micros_per_day;
    const std::int64_t rest = t - day * micros_per_day;
    if (day != day_) set_day(day);
    char buf[32];
    std::memcpy(buf, date_, 10);
    buf[10] = sep_;
    const std::int64_t secs = rest / micros_per_second;
    two_digits(buf + 11, secs / 3600);
    buf[13] = ':';
    two_digits(buf + 14, secs / 60 % 60);
    buf[16] = ':';
    two_digits(buf + 17, secs % 60);
    std::size_t n = 19;
    const std::int64_t micros = rest % micros_per_second;
    if (always_micros_ || micros != 0) {
      buf[n++] = '.';
      std::int64_t m = micros;
      for (std::size_t k = 6; k-- > 0;) {
        buf[n + k] = static_cast<char>('0' + m % 10);
        m /= 10;
      }
      n += 6;
    }
    out.append(buf, n);
    if (offset_) out += "+00:00";
  }

 private:
  void set_day(std::int64_t day) {
    day_ = day;
    std::int64_t z = day + 719468;  // civil_from_days (proleptic Gregorian)
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    two_digits(date_, y / 100);
    two_digits(date_ + 2, y % 100);
    date_[4] = '-';
    two_digits(date_ + 5, m);
    date_[7] = '-';
    two_digits(date_ + 8, d);
  }

  char sep_;
  bool always_micros_;
  bool offset_;
  std::int64_t day_ = std::numeric_limits<std::int64_t>::min();
  char date_[10] = {};
};

py::list text_column(const backfill_plan& plan, const std::string& column, const std::string& style,
                     const std::string& prefix, int action) {
  const run_info_batch& infos = plan.infos();
  const std::vector<instant>* values = nullptr;
  if (column == "logical_date") {
    values = &infos.starts();
  } else if (column == "run_after") {
    values = &infos.run_afters();
  } else if (column == "data_interval_end") {
    values = &infos.ends();
  } else {
    throw py::value_error(
        "column must be one of logical_date, run_after, data_interval_end, "
        "got '" +
        column + "'");
  }
  const bool sqlite = style == "sqlite";
  if (!sqlite && style != "iso") {
    throw py::value_error("style must be 'sqlite' or 'iso', got '" + style + "'");
  }
  if (action < -1 || action >= static_cast<int>(backfill_action_count)) {
    throw py::value_error("action must be -1 (every entry) or an action code, got " +
                          std::to_string(action));
  }
  std::vector<std::size_t> rows;
  rows.reserve(values->size());
  for (std::size_t i = 0; i < values->size(); ++i) {
    if (action < 0 || static_cast<int>(plan.actions()[i]) == action) rows.push_back(i);
  }
  py::list out(rows.size());
  std::string text;
  utc_text format(sqlite ? ' ' : 'T', sqlite, !sqlite);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    text.assign(prefix);
    format.append(text, (*values)[rows[k]]);
    PyObject* str = PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
    if (!str) throw py::error_already_set();
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(k), str);
  }
  return out;
}

template <class Enum>
py::bytes codes(const std::vector<Enum>& column) {
  static_assert(sizeof(Enum) == 1, "one byte per code");
  return {reinterpret_cast<const char*>(column.data()), column.size()};
}

}  // namespace

void register_backfill(py::module_& m) {
  py::register_exception<dag_non_periodic_schedule_error>(m, "DagNonPeriodicScheduleError",
                                                          PyExc_ValueError)
      .doc() = "The DAG's timetable is not periodic (None, @once, @continuous): no backfill.";
  auto& range_error = py::register_exception<invalid_backfill_date_range>(
      m, "InvalidBackfillDateRange", PyExc_ValueError);
  range_error.doc() = "from_date is after to_date.";
  date_range_error_type = range_error.ptr();
  py::register_exception<invalid_backfill_date>(m, "InvalidBackfillDate", PyExc_ValueError).doc() =
      "The whole range lies in the future.";
  py::register_exception<invalid_backfill_direction>(m, "InvalidBackfillDirection",
                                                     PyExc_ValueError)
      .doc() = "run_backwards with tasks that depend on the past.";
  py::register_exception<invalid_reprocess_behavior>(m, "InvalidReprocessBehavior",
                                                     PyExc_ValueError)
      .doc() = "Reprocess behavior 'none' with tasks that depend on the past.";

  py::class_<backfill_plan>(
      m, "BackfillPlan",
      "A backfill plan computed in one C++ call, kept as columns (run infos, action codes, "
      "reason codes) in plan order; Python objects are built on request.")
      .def(py::init<>())
      .def("__len__", &backfill_plan::size)
      .def(
          "count",
          [](const backfill_plan& p, const std::string& action) {
            for (std::size_t i = 0; i < backfill_action_count; ++i) {
              if (backfill_action_names[i] == action) {
                return p.count(static_cast<backfill_action>(i));
              }
            }
            throw py::value_error("action must be one of " + joined(backfill_action_names) +
                                  ", got '" + action + "'");
          },
          py::arg("action"), "How many entries have the action ('create', 'clear', 'skip').")
      .def(
          "infos", [](const backfill_plan& p) { return p.infos(); },
          "The run infos in plan order, as a RunInfoBatch.")
      .def(
          "run_afters",
          [](const backfill_plan& p) {
            const auto& v = p.infos().run_afters();
            return to_datetime_list(v.data(), v.size());
          },
          "Every run_after, aware UTC.")
      .def(
          "logical_dates",
          [](const backfill_plan& p) {
            const auto& v = p.infos().starts();
            return to_datetime_list(v.data(), v.size());
          },
          "Every logical date (data interval start), aware UTC.")
      .def(
          "data_interval_ends",
          [](const backfill_plan& p) {
            const auto& v = p.infos().ends();
            return to_datetime_list(v.data(), v.size());
          },
          "Every data interval end, aware UTC.")
      .def("text_column", &text_column, py::arg("column"), py::arg("style"), py::arg("prefix") = "",
           py::arg("action") = -1,
           "One column ('logical_date', 'run_after', 'data_interval_end') as text, in plan "
           "order: style 'sqlite' is SQLAlchemy's SQLite DATETIME text (YYYY-MM-DD "
           "HH:MM:SS.ffffff), 'iso' is isoformat() of the aware UTC datetime; each value "
           "after `prefix`; only the entries whose action code is `action` unless it is -1.")
      .def(
          "action_codes", [](const backfill_plan& p) { return codes(p.actions()); },
          "One byte per entry: 0 create, 1 clear, 2 skip.")
      .def(
          "reason_codes", [](const backfill_plan& p) { return codes(p.reasons()); },
          "One byte per entry: 0 none, 1 in flight, 2 already exists.")
      .def("entries", &entries, py::arg("start"), py::arg("stop"), py::arg("entry_type"),
           py::arg("info_type"), py::arg("interval_type"), py::arg("actions"), py::arg("reasons"),
           "Entries [start, stop) as instances of entry_type(sort_ordinal, info, logical_date, "
           "action, reason), info_type(run_after, data_interval) and interval_type(start, end) "
           "(slots classes; __init__ is not called). actions and reasons give the object for "
           "each code.")
      .def(
          "__eq__",
          [](const backfill_plan& a, const py::object& b) -> py::object {
            if (!py::isinstance<backfill_plan>(b))
              return py::reinterpret_borrow<py::object>(Py_NotImplemented);
            return py::bool_(a == b.cast<const backfill_plan&>());
          },
          py::is_operator())
      .attr("__hash__") = py::none();

  m.def(
      "plan_backfill",
      [](const timetable& tt, const py::handle& from_date, const py::handle& to_date,
         const py::handle& now, const py::handle& existing_runs, const py::handle& reprocess,
         bool run_backwards, bool depends_on_past, std::uint64_t max_runs,
         const std::optional<std::string>& dag_id) {
        const backfill_params params = params_arg(from_date, to_date, reprocess, run_backwards,
                                                  depends_on_past, max_runs, dag_id);
        const instant n = to_instant(now, "now");
        std::vector<existing_run> runs = existing_runs_arg(existing_runs);
        return without_gil(from_date, to_date, [&] {
          const existing_run_index index(std::move(runs));
          return plan_backfill(tt, params, n, index);
        });
      },
      py::arg("timetable"), py::arg("from_date"), py::arg("to_date"), py::arg("now"),
      py::arg("existing_runs"), py::arg("reprocess_behavior"), py::arg("run_backwards"),
      py::arg("depends_on_past"), py::arg("max_runs"), py::arg("dag_id") = py::none(),
      "Validates (Airflow's order) and plans a whole backfill in one call.");

  m.def(
      "validate_backfill",
      [](bool periodic, const py::handle& from_date, const py::handle& to_date,
         const py::handle& now, const py::handle& reprocess, bool run_backwards,
         bool depends_on_past, const std::optional<std::string>& dag_id) {
        const backfill_params params = params_arg(from_date, to_date, reprocess, run_backwards,
                                                  depends_on_past, default_max_runs, dag_id);
        const instant n = to_instant(now, "now");
        without_gil(from_date, to_date, [&] { validate_backfill(periodic, params, n); });
      },
      py::arg("periodic"), py::arg("from_date"), py::arg("to_date"), py::arg("now"),
      py::arg("reprocess_behavior"), py::arg("run_backwards"), py::arg("depends_on_past"),
      py::arg("dag_id") = py::none(),
      "Airflow's backfill checks, in its order; returns None if they pass.");

  m.def(
      "plan_backfill_infos",
      [](const run_info_batch& infos, const py::handle& now, const py::handle& existing_runs,
         const py::handle& reprocess, bool run_backwards) {
        backfill_params params;
        params.reprocess = reprocess_arg(reprocess);
        params.run_backwards = run_backwards;
        const instant n = to_instant(now, "now");
        std::vector<existing_run> runs = existing_runs_arg(existing_runs);
        py::gil_scoped_release nogil;
        const existing_run_index index(std::move(runs));
        return plan_backfill_from_infos(infos, params, n, index);
      },
      py::arg("infos"), py::arg("now"), py::arg("existing_runs"), py::arg("reprocess_behavior"),
      py::arg("run_backwards"),
      "Plans already generated run infos (no validation: call validate_backfill first).");
}

}  // namespace dagcore::bindings
