// Placeholder until the run state binding lands (issue 4, in progress).
#include "register.hpp"

namespace dagcore::bindings {

void register_run_state(pybind11::module_& /*m*/) {}

}  // namespace dagcore::bindings
