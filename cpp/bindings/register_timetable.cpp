// Python binding of the timetables: _core.Timetable (every kind, built by static factories from
// plain values) and _core.RunInfoBatch (the bulk result). dagcore.timetables wraps both; the
// Python layer owns argument checking with Airflow's messages, serialization and the clock.
//
// Times cross as aware datetimes (results are aware UTC); deltas cross as (months, microseconds)
// pairs, which the Python layer derives from a timedelta or a relativedelta. "now" is always an
// argument: the binding never reads a clock.
//
// GIL: every argument is converted to C++ first; the bulk computation runs with the GIL
// released; Python objects (tuples, lists of datetimes) are built afterwards. The batch keeps
// its three C++ columns and builds datetimes only when a column or an item is asked for.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dagcore/timetable.hpp"
#include "datetime_convert.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace dagcore::bindings {
namespace {

using timetable_ptr = std::shared_ptr<timetable>;  // pybind11 holders cannot hold const types

/// The value of a `run_immediately` argument: a bool or a timedelta.
run_immediately_policy run_immediately_arg(const py::handle& value) {
  if (PyBool_Check(value.ptr())) return run_immediately_policy::from_bool(value.ptr() == Py_True);
  if (is_timedelta(value)) {
    return run_immediately_policy::within_micros(to_micros(value, "run_immediately"));
  }
  throw py::type_error("run_immediately must be a bool or a timedelta, got " +
                       std::string(Py_TYPE(value.ptr())->tp_name));
}

py::tuple interval_tuple(const data_interval& d) {
  return py::make_tuple(to_datetime(d.start), to_datetime(d.end));
}

py::tuple info_tuple(const run_info& info) {
  return py::make_tuple(to_datetime(info.run_after), to_datetime(info.interval.start),
                        to_datetime(info.interval.end));
}

py::list column(const std::vector<instant>& v) { return to_datetime_list(v.data(), v.size()); }

std::vector<instant> instants_arg(const py::handle& seq, const char* what) {
  const auto s = py::reinterpret_borrow<py::sequence>(seq);
  std::vector<instant> out;
  out.reserve(s.size());
  for (const py::handle item : s) out.push_back(to_instant(item, what));
  return out;
}

std::size_t index_arg(const run_info_batch& b, py::ssize_t i) {
  const auto n = static_cast<py::ssize_t>(b.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) throw py::index_error("RunInfoBatch index out of range");
  return static_cast<std::size_t>(i);
}

run_info_batch slice_of(const run_info_batch& b, const py::slice& slice) {
  py::ssize_t start = 0;
  py::ssize_t stop = 0;
  py::ssize_t step = 0;
  py::ssize_t length = 0;
  if (!slice.compute(static_cast<py::ssize_t>(b.size()), &start, &stop, &step, &length)) {
    throw py::error_already_set();
  }
  std::vector<instant> run_afters;
  std::vector<instant> starts;
  std::vector<instant> ends;
  run_afters.reserve(static_cast<std::size_t>(length));
  starts.reserve(static_cast<std::size_t>(length));
  ends.reserve(static_cast<std::size_t>(length));
  for (py::ssize_t k = 0, i = start; k < length; ++k, i += step) {
    const auto u = static_cast<std::size_t>(i);
    run_afters.push_back(b.run_afters()[u]);
    starts.push_back(b.starts()[u]);
    ends.push_back(b.ends()[u]);
  }
  return {std::move(run_afters), std::move(starts), std::move(ends)};
}

std::optional<data_interval> last_arg(const py::handle& start, const py::handle& end) {
  if (start.is_none() && end.is_none()) return std::nullopt;
  return data_interval{to_instant(start, "last_automated_data_interval.start"),
                       to_instant(end, "last_automated_data_interval.end")};
}

}  // namespace

void register_timetable(py::module_& m) {
  py::class_<run_info_batch>(
      m, "RunInfoBatch",
      "Run infos computed in one C++ call, kept as three columns (run_after, data interval "
      "start = logical date, data interval end); datetimes are built on access.")
      .def(py::init<>())
      .def_static(
          "from_columns",
          [](const py::handle& run_afters, const py::handle& starts, const py::handle& ends) {
            return run_info_batch(instants_arg(run_afters, "run_after"),
                                  instants_arg(starts, "data_interval.start"),
                                  instants_arg(ends, "data_interval.end"));
          },
          py::arg("run_afters"), py::arg("starts"), py::arg("ends"),
          "A batch from three equally long sequences of aware datetimes.")
      .def("__len__", &run_info_batch::size)
      .def(
          "__getitem__",
          [](const run_info_batch& b, py::ssize_t i) { return info_tuple(b[index_arg(b, i)]); },
          py::arg("index"), "(run_after, data_interval_start, data_interval_end) of one run.")
      .def(
          "__getitem__", [](const run_info_batch& b, const py::slice& s) { return slice_of(b, s); },
          py::arg("index"), "A new batch holding the selected runs.")
      .def(
          "reversed",
          [](const run_info_batch& b) {
            return slice_of(b, py::slice(py::none(), py::none(), py::int_(-1)));
          },
          "A new batch in reverse order.")
      .def(
          "run_afters", [](const run_info_batch& b) { return column(b.run_afters()); },
          "Every run_after as a list of aware UTC datetimes.")
      .def(
          "starts", [](const run_info_batch& b) { return column(b.starts()); },
          "Every data interval start (= logical date) as a list of aware UTC datetimes.")
      .def(
          "ends", [](const run_info_batch& b) { return column(b.ends()); },
          "Every data interval end as a list of aware UTC datetimes.")
      .def(
          "__eq__",
          [](const run_info_batch& a, const py::object& b) -> py::object {
            if (!py::isinstance<run_info_batch>(b))
              return py::reinterpret_borrow<py::object>(Py_NotImplemented);
            return py::bool_(a == b.cast<const run_info_batch&>());
          },
          py::is_operator())
      .attr("__hash__") = py::none();

  py::class_<timetable, timetable_ptr>(
      m, "Timetable",
      "A timetable of any kind (built by the static factories); dagcore.timetables wraps it.")
      .def_static("null", [] { return timetable_ptr(std::make_shared<null_timetable>()); })
      .def_static("once", [] { return timetable_ptr(std::make_shared<once_timetable>()); })
      .def_static("continuous",
                  [] { return timetable_ptr(std::make_shared<continuous_timetable>()); })
      .def_static(
          "cron_trigger",
          [](const cron_schedule& schedule, std::int32_t interval_months,
             std::int64_t interval_micros, const py::handle& run_immediately) {
            return timetable_ptr(std::make_shared<cron_trigger_timetable>(
                schedule, calendar_delta{interval_months, interval_micros},
                run_immediately_arg(run_immediately)));
          },
          py::arg("schedule"), py::arg("interval_months"), py::arg("interval_micros"),
          py::arg("run_immediately"))
      .def_static(
          "multiple_cron_trigger",
          [](const std::vector<cron_schedule>& schedules, std::int32_t interval_months,
             std::int64_t interval_micros, const py::handle& run_immediately) {
            return timetable_ptr(std::make_shared<multiple_cron_trigger_timetable>(
                schedules, calendar_delta{interval_months, interval_micros},
                run_immediately_arg(run_immediately)));
          },
          py::arg("schedules"), py::arg("interval_months"), py::arg("interval_micros"),
          py::arg("run_immediately"))
      .def_static(
          "cron_data_interval",
          [](const cron_schedule& schedule) {
            return timetable_ptr(std::make_shared<cron_data_interval_timetable>(schedule));
          },
          py::arg("schedule"))
      .def_static(
          "delta_trigger",
          [](std::int32_t delta_months, std::int64_t delta_micros, std::int32_t interval_months,
             std::int64_t interval_micros) {
            return timetable_ptr(std::make_shared<delta_trigger_timetable>(
                calendar_delta{delta_months, delta_micros},
                calendar_delta{interval_months, interval_micros}));
          },
          py::arg("delta_months"), py::arg("delta_micros"), py::arg("interval_months"),
          py::arg("interval_micros"))
      .def_static(
          "delta_data_interval",
          [](std::int32_t delta_months, std::int64_t delta_micros) {
            return timetable_ptr(std::make_shared<delta_data_interval_timetable>(
                calendar_delta{delta_months, delta_micros}));
          },
          py::arg("delta_months"), py::arg("delta_micros"))
      .def_property_readonly("kind",
                             [](const timetable& t) { return std::string(to_string(t.kind())); })
      .def_property_readonly("periodic", &timetable::periodic)
      .def_property_readonly("can_be_scheduled", &timetable::can_be_scheduled)
      .def(
          "next_dagrun_info",
          [](const timetable& t, const py::handle& last_start, const py::handle& last_end,
             const py::handle& earliest, const py::handle& latest, bool catchup,
             const py::handle& now) -> py::object {
            const std::optional<data_interval> last = last_arg(last_start, last_end);
            const time_restriction restriction{
                to_optional_instant(earliest, "restriction.earliest"),
                to_optional_instant(latest, "restriction.latest"), catchup};
            const std::optional<run_info> info =
                t.next_dagrun_info(last, restriction, to_instant(now, "utcnow()"));
            if (!info) return py::none();
            return info_tuple(*info);
          },
          py::arg("last_start"), py::arg("last_end"), py::arg("earliest"), py::arg("latest"),
          py::arg("catchup"), py::arg("now"),
          "(run_after, data_interval_start, data_interval_end) of the next run, or None.")
      .def(
          "infer_manual_data_interval",
          [](const timetable& t, const py::handle& run_after, const py::handle& now) {
            return interval_tuple(t.infer_manual_data_interval(to_instant(run_after, "run_after"),
                                                               to_instant(now, "utcnow()")));
          },
          py::arg("run_after"), py::arg("now"))
      .def(
          "infos_between",
          [](const timetable& t, const py::handle& earliest, const py::handle& latest,
             const py::handle& now, std::uint64_t max_runs) {
            const instant e = to_instant(earliest, "earliest");
            const instant l = to_instant(latest, "latest");
            const instant n = to_instant(now, "utcnow()");
            run_info_batch batch;
            {
              py::gil_scoped_release nogil;
              batch = t.infos_between(e, l, n, max_runs);
            }
            return batch;
          },
          py::arg("earliest"), py::arg("latest"), py::arg("now"),
          py::arg("max_runs") = default_max_runs,
          "Repeated next_dagrun_info with catchup from earliest to latest, in one call.");
}

}  // namespace dagcore::bindings
