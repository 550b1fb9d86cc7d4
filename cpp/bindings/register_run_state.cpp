// Python binding of the run-state engine: _core.RunGraph, _core.RunDecisionBatch and
// _core.evaluate_trigger_rule. dagcore.run_state wraps them; the Python layer owns argument
// checking with readable messages, the TaskSpec/RunDecision records and the mapping form of
// states.
//
// States cross as the compact form: one byte per task in graph order, the ti_state codes of
// states.hpp (dagcore.state.TI_STATE_CODES). A RunGraph is built with the Python objects its
// results are made of (the RunDecision class and the enum members by code), so that decide_many
// builds every RunDecision here, in C++, from interned task id strings and shared enum members:
// the scheduler's hot path pays no per-task Python cost and no Python-level __init__ per run.
// RunDecision is a frozen slotted dataclass; its instances are made with the class's tp_new and
// filled through object.__setattr__ (PyObject_GenericSetAttr), exactly as dataclasses do.
//
// GIL: the runs are gathered into one contiguous block with the GIL held (runs given as lists
// or dicts of states are encoded here; other mappings, and bad input, by the Python callable
// passed in, which raises the right errors); the decisions are computed with the GIL
// released; Python objects are built afterwards. decide_many_compact reads the caller's buffer
// in place (a buffer export keeps a bytearray from being resized; the engine checks every row
// after copying it, so concurrent writes cannot feed it an unchecked code).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dagcore/run_state.hpp"
#include "dagcore/trigger_rules.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace dagcore::bindings {
namespace {

std::string type_name(const py::handle& o) { return Py_TYPE(o.ptr())->tp_name; }

/// A C-contiguous byte buffer (bytes, bytearray, memoryview, array('B'), a uint8 array...).
class byte_view {
 public:
  byte_view(const py::handle& obj, const char* what) {
    if (PyObject_GetBuffer(obj.ptr(), &m_view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
      PyErr_Clear();
      throw py::type_error(std::string(what) +
                           " must be a contiguous bytes-like object (bytes, bytearray, "
                           "memoryview), got " +
                           type_name(obj));
    }
    const char* format = m_view.format;
    const bool bytes_format = format == nullptr || std::strcmp(format, "B") == 0 ||
                              std::strcmp(format, "b") == 0 || std::strcmp(format, "c") == 0;
    if (m_view.itemsize != 1 || !bytes_format) {
      PyBuffer_Release(&m_view);
      throw py::type_error(std::string(what) + " must hold bytes (one state code per task), got " +
                           "items of format '" + (format ? format : "") + "'");
    }
  }
  byte_view(const byte_view&) = delete;
  byte_view& operator=(const byte_view&) = delete;
  ~byte_view() { PyBuffer_Release(&m_view); }

  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept {
    return {static_cast<const std::uint8_t*>(m_view.buf), static_cast<std::size_t>(m_view.len)};
  }

 private:
  Py_buffer m_view{};
};

/// A tiny open-addressing table from object identity to state code: the enum members and None
/// are singletons, so encoding a list of states needs no hashing of Python objects.
class pointer_table {
 public:
  void insert(PyObject* key, std::uint8_t code) noexcept {
    std::size_t slot = hash(key);
    while (m_keys[slot] != nullptr && m_keys[slot] != key) slot = (slot + 1) % size;
    m_keys[slot] = key;
    m_codes[slot] = code;
  }
  [[nodiscard]] std::optional<std::uint8_t> find(PyObject* key) const noexcept {
    for (std::size_t slot = hash(key);; slot = (slot + 1) % size) {
      if (m_keys[slot] == key) return m_codes[slot];
      if (m_keys[slot] == nullptr) return std::nullopt;
    }
  }

 private:
  static constexpr std::size_t size = 64;  // > 4x the 13 keys: short probes, never full
  static std::size_t hash(PyObject* key) noexcept {
    const auto p = reinterpret_cast<std::uintptr_t>(key);
    return static_cast<std::size_t>((p >> 4) ^ (p >> 10)) % size;
  }
  std::array<PyObject*, size> m_keys{};
  std::array<std::uint8_t, size> m_codes{};
};

/// A compiled graph and the Python objects its decisions are built from.
struct py_run_graph {
  run_graph graph;
  py::tuple task_ids;         // str, graph order
  py::object decision_type;   // dagcore.run_state.RunDecision
  py::tuple run_states;       // DagRunState members by dagrun_state code
  py::tuple ti_states;        // None, then TaskInstanceState members, by ti_state code
  py::tuple reasons;          // None or str by run_reason code
  py::dict codes;             // state (member, its value, None) -> ti_state code
  py::dict name_codes;        // plain str state name -> ti_state code
  py::dict index;             // task id (exact str) -> graph index
  pointer_table by_identity;  // ti_states' objects -> code (the tuple keeps them alive)
  py::tuple empty;
  py::str attr_state{"state"};
  py::str attr_schedulable{"schedulable"};
  py::str attr_changed{"changed"};
  py::str attr_reason{"reason"};

  /// Encodes one run given as a list or tuple of states in graph order into `out`. The enum
  /// members and None are found by identity in a small pointer table; other objects (plain
  /// state names) through the codes dict, which may run Python code (a str subclass's __hash__),
  /// so the item is held and the row's size checked again after it.
  void encode_row(PyObject* row, std::uint8_t* out, Py_ssize_t run) const {
    const std::size_t n = graph.size();
    const auto check_size = [&] {
      const auto len = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(row));
      if (len != n) {
        throw py::value_error("run " + std::to_string(run) + ": expected " + std::to_string(n) +
                              " states (one per task, in graph order), got " + std::to_string(len));
      }
    };
    check_size();
    for (std::size_t i = 0; i < n; ++i) {
      PyObject* state = PySequence_Fast_ITEMS(row)[i];
      if (const std::optional<std::uint8_t> c = by_identity.find(state)) {
        out[i] = *c;
        continue;
      }
      const auto held = py::reinterpret_borrow<py::object>(state);
      out[i] = static_cast<std::uint8_t>(code_of(held.ptr(), i, run));
      check_size();
    }
  }

  /// Encodes one run given as a dict of task id -> state into `out` when every key is an exact
  /// str naming a task and every value is a state member, None or an exact str state name:
  /// lookups of exact str keys run no Python code. Returns false (out undefined) otherwise, and
  /// the caller falls back to the Python encoder, which also raises the right error.
  bool encode_dict(PyObject* dict, std::uint8_t* out) const {
    const std::size_t n = graph.size();
    if (n != 0) std::memset(out, 0, n);
    Py_ssize_t pos = 0;
    PyObject* key = nullptr;
    PyObject* value = nullptr;
    while (PyDict_Next(dict, &pos, &key, &value)) {
      if (!PyUnicode_CheckExact(key)) return false;
      PyObject* at = PyDict_GetItemWithError(index.ptr(), key);
      if (at == nullptr) {
        PyErr_Clear();
        return false;
      }
      std::optional<std::uint8_t> c = by_identity.find(value);
      if (!c) {
        if (!PyUnicode_CheckExact(value)) return false;
        PyObject* found = PyDict_GetItemWithError(name_codes.ptr(), value);
        if (found == nullptr) {
          PyErr_Clear();
          return false;
        }
        c = static_cast<std::uint8_t>(PyLong_AsSize_t(found));
      }
      out[PyLong_AsSize_t(at)] = *c;
    }
    return true;
  }

  /// One RunDecision from compact rows (changed: 0 or a ti_state code; schedulable: 0 or 1).
  [[nodiscard]] py::object decision(std::uint8_t state, std::uint8_t reason,
                                    const std::uint8_t* changed,
                                    const std::uint8_t* schedulable) const {
    const std::size_t n = graph.size();
    std::size_t n_schedulable = 0;
    for (std::size_t i = 0; i < n; ++i) n_schedulable += schedulable[i];
    py::tuple sched(n_schedulable);
    py::dict changes;
    for (std::size_t i = 0, k = 0; i < n; ++i) {
      PyObject* id = PyTuple_GET_ITEM(task_ids.ptr(), static_cast<Py_ssize_t>(i));
      if (schedulable[i] != 0) {
        Py_INCREF(id);
        PyTuple_SET_ITEM(sched.ptr(), static_cast<Py_ssize_t>(k++), id);
      }
      if (changed[i] != 0) {
        PyObject* s = PyTuple_GET_ITEM(ti_states.ptr(), changed[i]);
        if (PyDict_SetItem(changes.ptr(), id, s) != 0) throw py::error_already_set();
      }
    }
    auto* type = reinterpret_cast<PyTypeObject*>(decision_type.ptr());
    auto obj = py::reinterpret_steal<py::object>(type->tp_new(type, empty.ptr(), nullptr));
    if (!obj) throw py::error_already_set();
    set(obj, attr_state, PyTuple_GET_ITEM(run_states.ptr(), state));
    set(obj, attr_schedulable, sched.ptr());
    set(obj, attr_changed, changes.ptr());
    set(obj, attr_reason, PyTuple_GET_ITEM(reasons.ptr(), reason));
    return obj;
  }

 private:
  [[nodiscard]] std::size_t code_of(PyObject* state, std::size_t task, Py_ssize_t run) const {
    PyObject* found = PyDict_GetItemWithError(codes.ptr(), state);
    if (found != nullptr) return PyLong_AsSize_t(found);
    if (PyErr_Occurred() != nullptr) PyErr_Clear();  // unhashable: a type error below
    const std::string id = graph.task_id(static_cast<run_graph::index_type>(task));
    const std::string where = "run " + std::to_string(run) + ": ";
    if (PyUnicode_Check(state)) {
      throw py::value_error(where + py::repr(state).cast<std::string>() +
                            " is not a task instance state (task '" + id + "')");
    }
    throw py::type_error(where + "the state of task '" + id +
                         "' must be a TaskInstanceState, a state name or None, got " +
                         type_name(state));
  }

  static void set(const py::object& obj, const py::str& name, PyObject* value) {
    if (PyObject_GenericSetAttr(obj.ptr(), name.ptr(), value) != 0) throw py::error_already_set();
  }
};

using graph_ptr = std::shared_ptr<py_run_graph>;

/// A batch of decisions and the graph that made it (for building RunDecision objects).
struct py_decision_batch {
  graph_ptr graph;
  decision_batch batch;

  [[nodiscard]] py::object item(std::size_t r) const {
    return graph->decision(batch.state_codes()[r], batch.reason_codes()[r], batch.changed(r).data(),
                           batch.schedulable(r).data());
  }
};

py::bytes as_bytes(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

py::tuple checked_tuple(const py::handle& seq, std::size_t size, const char* what) {
  py::tuple t = py::tuple(py::reinterpret_borrow<py::object>(seq));
  if (t.size() != size) {
    throw py::value_error(std::string(what) + " must have " + std::to_string(size) +
                          " items, got " + std::to_string(t.size()));
  }
  return t;
}

trigger_rule rule_arg(const std::string& name) {
  const auto rule = parse_trigger_rule(name);
  if (!rule) throw py::value_error("No strategy to evaluate trigger rule '" + name + "'.");
  return *rule;
}

graph_ptr make_graph(const py::sequence& tasks, const py::handle& decision_type,
                     const py::handle& run_states, const py::handle& ti_states) {
  if (!PyType_Check(decision_type.ptr())) {
    throw py::type_error("decision_type must be a class, got " + type_name(decision_type));
  }
  std::vector<task_spec> specs;
  specs.reserve(tasks.size());
  for (const py::handle item : tasks) {
    const auto t = item.cast<py::tuple>();
    if (t.size() != 8) throw py::value_error("a task is an 8-tuple");
    task_spec s;
    s.task_id = t[0].cast<std::string>();
    s.upstream = t[1].cast<std::vector<std::string>>();
    s.rule = rule_arg(t[2].cast<std::string>());
    s.is_setup = t[3].cast<bool>();
    s.is_teardown = t[4].cast<bool>();
    s.on_failure_fail_dagrun = t[5].cast<bool>();
    s.depends_on_past = t[6].cast<bool>();
    s.limits_concurrency = t[7].cast<bool>();
    specs.push_back(std::move(s));
  }
  auto g = std::make_shared<py_run_graph>();
  {
    py::gil_scoped_release nogil;
    g->graph = run_graph(specs);
  }
  py::tuple ids(g->graph.size());
  for (std::size_t i = 0; i < g->graph.size(); ++i) {
    // Interned: the same str objects serve every decision, and dict lookups on them are fast.
    PyObject* id = py::str(g->graph.task_id(static_cast<run_graph::index_type>(i))).release().ptr();
    PyUnicode_InternInPlace(&id);
    ids[i] = py::reinterpret_steal<py::object>(id);
  }
  g->task_ids = std::move(ids);
  for (std::size_t i = 0; i < g->graph.size(); ++i) g->index[g->task_ids[i]] = i;
  g->decision_type = py::reinterpret_borrow<py::object>(decision_type);
  g->run_states = checked_tuple(run_states, dagrun_state_count, "run_states");
  g->ti_states = checked_tuple(ti_states, ti_state_count, "ti_states");
  for (std::size_t c = 0; c < ti_state_count; ++c) {
    const py::object state = g->ti_states[c];
    g->codes[state] = c;
    g->by_identity.insert(state.ptr(), static_cast<std::uint8_t>(c));
    if (!state.is_none()) {
      const py::str name(state.attr("value"));  // a plain str: the lookup key of encode_dict
      g->codes[name] = c;
      g->name_codes[name] = c;
    }
  }
  py::tuple reasons(run_reason_count);
  for (std::size_t r = 0; r < run_reason_count; ++r) {
    const std::string_view text = to_string(static_cast<run_reason>(r));
    reasons[r] = text.empty() ? py::object(py::none()) : py::object(py::str(std::string(text)));
  }
  g->reasons = std::move(reasons);
  g->empty = py::tuple(0);
  return g;
}

/// The runs of decide_many as one block: bytes-like items are copied, lists and tuples of
/// states (graph order) and plain dicts are encoded here, anything else (and a dict the fast
/// path declines) goes through `encode`, which must return bytes.
std::vector<std::uint8_t> gather_runs(const py_run_graph& g, const py::handle& runs,
                                      const py::handle& encode) {
  // A tuple (the same one, or a copy of a list): `encode` runs Python code that could change
  // a list while it is walked.
  const auto seq = py::reinterpret_steal<py::object>(PySequence_Tuple(runs.ptr()));
  if (!seq) throw py::error_already_set();
  const Py_ssize_t n_runs = PyTuple_GET_SIZE(seq.ptr());
  const std::size_t n = g.graph.size();
  std::vector<std::uint8_t> block(static_cast<std::size_t>(n_runs) * n);
  for (Py_ssize_t r = 0; r < n_runs; ++r) {
    PyObject* item = PyTuple_GET_ITEM(seq.ptr(), r);
    std::uint8_t* out = block.data() + static_cast<std::size_t>(r) * n;
    if (PyList_Check(item) || PyTuple_Check(item)) {
      g.encode_row(item, out, r);
      continue;
    }
    if (PyDict_CheckExact(item) && g.encode_dict(item, out)) continue;
    py::object encoded;
    if (!PyBytes_Check(item) && !PyByteArray_Check(item)) {
      encoded = py::reinterpret_borrow<py::object>(encode)(py::handle(item));
      item = encoded.ptr();
      if (!PyBytes_Check(item)) {
        throw py::type_error("encode must return bytes, got " + type_name(item));
      }
    }
    const char* data = PyBytes_Check(item) ? PyBytes_AS_STRING(item) : PyByteArray_AS_STRING(item);
    const auto len = static_cast<std::size_t>(Py_SIZE(item));
    if (len != n) {
      throw py::value_error("run " + std::to_string(r) + ": expected " + std::to_string(n) +
                            " state codes (one per task, in graph order), got " +
                            std::to_string(len) + " bytes");
    }
    if (n != 0) std::memcpy(out, data, n);
  }
  return block;
}

}  // namespace

void register_run_state(py::module_& m) {
  m.def(
      "evaluate_trigger_rule",
      [](const std::string& rule, std::uint32_t upstream, std::uint32_t success,
         std::uint32_t skipped, std::uint32_t failed, std::uint32_t upstream_failed,
         std::uint32_t removed, std::uint32_t done, std::uint32_t upstream_setup,
         std::uint32_t success_setup, std::uint32_t skipped_setup, bool flag_upstream_failed) {
        upstream_counts c;
        c.upstream = upstream;
        c.success = success;
        c.skipped = skipped;
        c.failed = failed;
        c.upstream_failed = upstream_failed;
        c.removed = removed;
        c.done = done;
        c.upstream_setup = upstream_setup;
        c.success_setup = success_setup;
        c.skipped_setup = skipped_setup;
        const evaluation ev = evaluate(rule_arg(rule), c, flag_upstream_failed);
        const py::object state = ev.new_state
                                     ? py::object(py::int_(static_cast<int>(*ev.new_state)))
                                     : py::object(py::none());
        return py::make_tuple(ev.passed, state, ev.reason);
      },
      py::arg("rule"), py::arg("upstream"), py::arg("success"), py::arg("skipped"),
      py::arg("failed"), py::arg("upstream_failed"), py::arg("removed"), py::arg("done"),
      py::arg("upstream_setup"), py::arg("success_setup"), py::arg("skipped_setup"),
      py::arg("flag_upstream_failed"),
      "(passed, new state code or None, reason text) of Airflow's trigger-rule dependency.");

  py::class_<py_decision_batch>(
      m, "RunDecisionBatch",
      "Decisions for many runs as compact columns (RunGraph.decide_many_compact). Indexing "
      "builds one RunDecision; the columns are bytes: `states` (one DagRunState code per run: "
      "0 queued, 1 running, 2 success, 3 failed), `reasons` (0 none, 1 success, 2 task_failure, "
      "3 all_tasks_deadlocked), and per run and task in graph order `changed` (0 = unchanged, "
      "else the new TI_STATE_CODES code) and `schedulable` (1 = may be queued now).")
      .def("__len__", [](const py_decision_batch& b) { return b.batch.size(); })
      .def(
          "__getitem__",
          [](const py_decision_batch& b, py::ssize_t i) {
            const auto n = static_cast<py::ssize_t>(b.batch.size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) throw py::index_error("RunDecisionBatch index out of range");
            return b.item(static_cast<std::size_t>(i));
          },
          py::arg("index"), "The RunDecision of one run.")
      .def_property_readonly("n_tasks",
                             [](const py_decision_batch& b) { return b.batch.n_tasks(); })
      .def_property_readonly(
          "states", [](const py_decision_batch& b) { return as_bytes(b.batch.state_codes()); })
      .def_property_readonly(
          "reasons", [](const py_decision_batch& b) { return as_bytes(b.batch.reason_codes()); })
      .def_property_readonly(
          "changed", [](const py_decision_batch& b) { return as_bytes(b.batch.changed_codes()); })
      .def_property_readonly("schedulable", [](const py_decision_batch& b) {
        return as_bytes(b.batch.schedulable_mask());
      });

  py::class_<py_run_graph, graph_ptr>(
      m, "RunGraph",
      "A DAG's structure compiled for run-state decisions (dagcore.run_state.RunGraph wraps it).")
      .def(py::init(&make_graph), py::arg("tasks"), py::arg("decision_type"), py::arg("run_states"),
           py::arg("ti_states"),
           "tasks: (task_id, upstream ids, trigger rule, is_setup, is_teardown, "
           "on_failure_fail_dagrun, depends_on_past, limits_concurrency) tuples.")
      .def_property_readonly("task_ids", [](const py_run_graph& g) { return g.task_ids; })
      .def_property_readonly("positions",
                             [](const py_run_graph& g) {
                               std::vector<std::size_t> out(g.graph.size());
                               for (std::size_t i = 0; i < out.size(); ++i) {
                                 out[i] = g.graph.position(static_cast<run_graph::index_type>(i));
                               }
                               return out;
                             })
      .def(
          "decide",
          [](const py_run_graph& g, const py::handle& codes) {
            run_decision d;
            {
              const byte_view view(codes, "states");
              py::gil_scoped_release nogil;
              d = g.graph.decide_codes(view.bytes());
            }
            const std::size_t n = g.graph.size();
            std::vector<std::uint8_t> changed(n, 0);
            std::vector<std::uint8_t> sched(n, 0);
            for (const state_change& c : d.changed)
              changed[c.task] = static_cast<std::uint8_t>(c.state);
            for (const auto i : d.schedulable) sched[i] = 1;
            return g.decision(static_cast<std::uint8_t>(d.state),
                              static_cast<std::uint8_t>(d.reason), changed.data(), sched.data());
          },
          py::arg("codes"), "The RunDecision for one run in the compact form.")
      .def(
          "decide_many",
          [](const py_run_graph& g, const py::handle& runs, const py::handle& encode) {
            const std::vector<std::uint8_t> block = gather_runs(g, runs, encode);
            const std::size_t n = g.graph.size();
            const std::size_t n_runs =
                n == 0 ? static_cast<std::size_t>(py::len(runs)) : block.size() / n;
            decision_batch batch;
            {
              py::gil_scoped_release nogil;
              batch = g.graph.decide_many(block, n_runs);
            }
            py::list out(n_runs);
            for (std::size_t r = 0; r < n_runs; ++r) {
              out[r] = g.decision(batch.state_codes()[r], batch.reason_codes()[r],
                                  batch.changed(r).data(), batch.schedulable(r).data());
            }
            return out;
          },
          py::arg("runs"), py::arg("encode"),
          "A RunDecision per run; runs are bytes (compact form), lists or tuples of states in "
          "graph order, or anything `encode` turns into bytes.")
      .def(
          "decide_many_cascade",
          [](const py_run_graph& g, const py::handle& runs, const py::handle& encode,
             const py::handle& auto_success, py::ssize_t max_rounds) {
            if (max_rounds < 1)
              throw py::value_error("max_rounds must be >= 1, got " + std::to_string(max_rounds));
            const std::vector<std::uint8_t> block = gather_runs(g, runs, encode);
            const std::size_t n = g.graph.size();
            const std::size_t n_runs =
                n == 0 ? static_cast<std::size_t>(py::len(runs)) : block.size() / n;
            decision_batch batch;
            std::vector<std::uint8_t> done;
            std::vector<std::uint32_t> rounds;
            {
              const byte_view flags(auto_success, "auto_success");
              const auto bytes = flags.bytes();
              const std::vector<std::uint8_t> mask(bytes.begin(), bytes.end());
              if (mask.size() != n) {
                throw py::value_error("auto_success must hold " + std::to_string(n) +
                                      " flags (one per task), got " + std::to_string(mask.size()));
              }
              py::gil_scoped_release nogil;
              batch = g.graph.decide_many_cascade(
                  block, n_runs, mask, static_cast<std::size_t>(max_rounds), done, rounds);
            }
            py::list decisions(n_runs);
            py::list marked(n_runs);
            std::size_t total = 0;
            for (std::size_t r = 0; r < n_runs; ++r) {
              decisions[r] = g.decision(batch.state_codes()[r], batch.reason_codes()[r],
                                        batch.changed(r).data(), batch.schedulable(r).data());
              std::size_t k = 0;
              for (std::size_t i = 0; i < n; ++i) k += done[r * n + i];
              py::tuple ids(k);
              k = 0;
              for (std::size_t i = 0; i < n; ++i) {
                if (done[r * n + i] != 0) ids[k++] = g.task_ids[i];
              }
              marked[r] = std::move(ids);
              total += rounds[r];
            }
            return py::make_tuple(std::move(decisions), std::move(marked), total);
          },
          py::arg("runs"), py::arg("encode"), py::arg("auto_success"), py::arg("max_rounds"),
          "(RunDecision per run, task ids set success per run, decisions made in all): "
          "decide_many with the scheduler's rounds for auto-success tasks "
          "(run_graph::decide_many_cascade).")
      .def(
          "encode_many",
          [](const py_run_graph& g, const py::handle& runs, const py::handle& encode) {
            const std::vector<std::uint8_t> block = gather_runs(g, runs, encode);
            return as_bytes(block);
          },
          py::arg("runs"), py::arg("encode"),
          "The compact block of many runs (decide_many's run forms), for decide_many_compact.")
      .def(
          "decide_many_compact",
          [](const graph_ptr& g, const py::handle& buffer, py::ssize_t n_runs) {
            if (n_runs < 0)
              throw py::value_error("n_runs must be >= 0, got " + std::to_string(n_runs));
            py_decision_batch out{g, {}};
            {
              const byte_view view(buffer, "buffer");
              py::gil_scoped_release nogil;
              out.batch = g->graph.decide_many(view.bytes(), static_cast<std::size_t>(n_runs));
            }
            return out;
          },
          py::arg("buffer"), py::arg("n_runs"),
          "Decisions for n_runs runs given as one block of n_runs * len(task_ids) state codes.")
      .def(
          "decide_counts_compact",
          [](const graph_ptr& g, const py::handle& buffer, py::ssize_t n_runs) {
            if (n_runs < 0)
              throw py::value_error("n_runs must be >= 0, got " + std::to_string(n_runs));
            py_decision_batch out{g, {}};
            {
              const byte_view view(buffer, "buffer");
              const auto bytes = view.bytes();
              if (bytes.size() % sizeof(std::uint32_t) != 0) {
                throw py::value_error("a counts buffer holds 4-byte counts; got " +
                                      std::to_string(bytes.size()) + " bytes");
              }
              std::vector<std::uint32_t> counts(bytes.size() / sizeof(std::uint32_t));
              if (!counts.empty()) std::memcpy(counts.data(), bytes.data(), bytes.size());
              py::gil_scoped_release nogil;
              out.batch = g->graph.decide_counts(counts, static_cast<std::size_t>(n_runs));
            }
            return out;
          },
          py::arg("buffer"), py::arg("n_runs"),
          "Decisions for n_runs runs given as native uint32 instance counts, n_runs * "
          "len(task_ids) * 13 (task-major, by state code); see run_graph::decide_counts.")
      .def(
          "clear_closure",
          [](const py_run_graph& g, const std::vector<run_graph::index_type>& tasks, bool upstream,
             bool downstream) { return g.graph.clear_closure(tasks, upstream, downstream); },
          py::arg("tasks"), py::arg("upstream"), py::arg("downstream"),
          "Graph indexes of the tasks to clear with `tasks`, sorted.")
      .def(
          "leaves_for_run_state",
          [](const py_run_graph& g) {
            const auto leaves = g.graph.leaves_for_run_state();
            return std::vector<run_graph::index_type>(leaves.begin(), leaves.end());
          },
          "Graph indexes of the effective leaves.");
}

}  // namespace dagcore::bindings
