// Placeholder until the backfill binding lands (issue 4, in progress).
#include "register.hpp"

namespace dagcore::bindings {

void register_backfill(pybind11::module_& /*m*/) {}

}  // namespace dagcore::bindings
