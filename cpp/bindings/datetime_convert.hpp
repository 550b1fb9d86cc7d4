// Conversions between Python datetimes and dagcore instants (int64 UTC microseconds).
//
// Only datetime_convert.cpp includes CPython's datetime.h (its C API pointer is per translation
// unit); everything else goes through these functions. Call import_datetime() once at module
// initialisation. All functions need the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>

#include "dagcore/time_zone.hpp"

namespace dagcore::bindings {

void import_datetime();

/// An aware datetime as an instant. TypeError if `value` is not a datetime, ValueError if it is
/// naive; both messages name `what` (the argument).
instant to_instant(pybind11::handle value, const char* what);
/// None stays std::nullopt.
std::optional<instant> to_optional_instant(pybind11::handle value, const char* what);

/// An aware UTC datetime (tzinfo = datetime.timezone.utc).
pybind11::object to_datetime(instant t);
pybind11::object to_optional_datetime(const std::optional<instant>& t);
/// Like to_optional_datetime, but None also for an instant no datetime can hold (before
/// 0001-01-01 or after 9999-12-31 UTC): "no such time" rather than an error.
pybind11::object to_datetime_or_none(const std::optional<instant>& t);
/// A list of aware UTC datetimes, built in one pass.
pybind11::list to_datetime_list(const instant* first, std::size_t count, std::ptrdiff_t stride = 1);

/// A timedelta as microseconds; TypeError naming `what` otherwise.
std::int64_t to_micros(pybind11::handle value, const char* what);
pybind11::object to_timedelta(std::int64_t micros);

/// Whether `value` is a datetime.timedelta.
bool is_timedelta(pybind11::handle value);

}  // namespace dagcore::bindings
