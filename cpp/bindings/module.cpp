#include "datetime_convert.hpp"
#include "register.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "dagcore's C++ engines (private; use the dagcore.* modules).";
  dagcore::bindings::import_datetime();
  dagcore::bindings::register_cache(m);
  dagcore::bindings::register_cron(m);
  dagcore::bindings::register_timetable(m);
  dagcore::bindings::register_run_state(m);
  dagcore::bindings::register_backfill(m);
  dagcore::bindings::register_asset_conditions(m);
}
