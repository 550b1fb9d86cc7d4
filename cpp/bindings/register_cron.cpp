// Python binding of the cron engine: _core.CronSchedule (an expression in a time zone) and
// _core.CronError (a ValueError). Datetimes cross as aware datetimes; results are aware UTC.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "dagcore/cron.hpp"
#include "datetime_convert.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace dagcore::bindings {
namespace {

cron_schedule make_schedule(const std::string& expression, const std::string& timezone,
                            const std::optional<std::string>& hash_key) {
  time_zone zone = time_zone::load(timezone);
  return {cron_expression(expression, hash_key.value_or("")), std::move(zone)};
}

// The fires of [start, end] by one of the schedule's listing paths (between or
// between_per_date), computed without the GIL, as aware UTC datetimes.
using listing = std::vector<instant> (cron_schedule::*)(instant, instant, std::uint64_t) const;

py::list fires_between(const cron_schedule& s, py::handle start, py::handle end,
                       std::uint64_t max_runs, listing path) {
  const instant a = to_instant(start, "start");
  const instant b = to_instant(end, "end");
  std::vector<instant> fires;
  {
    py::gil_scoped_release nogil;
    fires = (s.*path)(a, b, max_runs);
  }
  return to_datetime_list(fires.data(), fires.size());
}

}  // namespace

void register_cron(py::module_& m) {
  py::register_exception<cron_error>(m, "CronError", PyExc_ValueError).doc() =
      "A cron expression that cannot be parsed (a ValueError).";

  py::class_<cron_schedule>(m, "CronSchedule",
                            "A cron expression in a time zone, with Airflow's DST rules.")
      .def(py::init(&make_schedule), py::arg("expression"), py::arg("timezone"),
           py::arg("hash_key") = py::none())
      .def_property_readonly("resolved",
                             [](const cron_schedule& s) { return s.expression().resolved(); })
      .def_property_readonly(
          "fires_at_least_hourly",
          [](const cron_schedule& s) { return s.expression().fires_at_least_hourly(); })
      .def_property_readonly("timezone", [](const cron_schedule& s) { return s.zone().name(); })
      .def(
          "next",
          [](const cron_schedule& s, py::handle after) {
            return to_datetime_or_none(s.next(to_instant(after, "after")));
          },
          py::arg("after"), "The first fire strictly after `after` (aware UTC), or None.")
      .def(
          "prev",
          [](const cron_schedule& s, py::handle before) {
            return to_datetime_or_none(s.prev(to_instant(before, "before")));
          },
          py::arg("before"), "The last fire strictly before `before` (aware UTC), or None.")
      .def(
          "matches",
          [](const cron_schedule& s, py::handle when) { return s.matches(to_instant(when, "dt")); },
          py::arg("dt"))
      .def(
          "between",
          [](const cron_schedule& s, py::handle start, py::handle end, std::uint64_t max_runs) {
            return fires_between(s, start, end, max_runs, &cron_schedule::between);
          },
          py::arg("start"), py::arg("end"), py::arg("max_runs") = 1'000'000,
          "Every fire in [start, end] as aware UTC datetimes.")
      .def(
          "between_per_date",
          [](const cron_schedule& s, py::handle start, py::handle end, std::uint64_t max_runs) {
            return fires_between(s, start, end, max_runs, &cron_schedule::between_per_date);
          },
          py::arg("start"), py::arg("end"), py::arg("max_runs") = 1'000'000,
          "between() through the per-date path (next() of each fire, each a zone-aware search): "
          "the reference tests compare the bulk walk with.")
      .def(
          "count_between",
          [](const cron_schedule& s, py::handle start, py::handle end) {
            const instant a = to_instant(start, "start");
            const instant b = to_instant(end, "end");
            py::gil_scoped_release nogil;
            return s.count_between(a, b);
          },
          py::arg("start"), py::arg("end"),
          "How many fires [start, end] holds (may use a closed form; nothing is materialized).")
      .def(
          "count_generated",
          [](const cron_schedule& s, py::handle start, py::handle end, std::uint64_t max_runs,
             bool per_date) {
            const instant a = to_instant(start, "start");
            const instant b = to_instant(end, "end");
            py::gil_scoped_release nogil;
            return per_date ? s.between_per_date(a, b, max_runs).size()
                            : s.between(a, b, max_runs).size();
          },
          py::arg("start"), py::arg("end"), py::arg("max_runs") = 100'000'000,
          py::arg("per_date") = false,
          "Generates every fire in [start, end] as C++ instants and returns how many: the "
          "engine alone, without Python objects (for benchmarks). per_date=True generates them "
          "as between_per_date does.");
}

}  // namespace dagcore::bindings
