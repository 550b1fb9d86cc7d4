#include "register.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "dagcore's C++ engines (private; use the dagcore.* modules).";
  dagcore::bindings::register_cache(m);
}
