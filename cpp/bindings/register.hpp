// One register_<concept> function per translation unit; module.cpp only wires them.
#pragma once

#include <pybind11/pybind11.h>

namespace dagcore::bindings {

void register_cache(pybind11::module_& m);
void register_cron(pybind11::module_& m);
void register_timetable(pybind11::module_& m);
void register_run_state(pybind11::module_& m);
void register_backfill(pybind11::module_& m);
void register_asset_conditions(pybind11::module_& m);

}  // namespace dagcore::bindings
