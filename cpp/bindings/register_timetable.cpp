// Placeholder until the timetable binding lands (issue 3, in progress).
#include "register.hpp"

namespace dagcore::bindings {

void register_timetable(pybind11::module_& /*m*/) {}

}  // namespace dagcore::bindings
