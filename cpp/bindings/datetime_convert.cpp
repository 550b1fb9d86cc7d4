#include "datetime_convert.hpp"

#include <datetime.h>

#include <string>

namespace py = pybind11;

namespace dagcore::bindings {
namespace {

PyObject* utc_singleton = nullptr;

std::string type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }

// Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

instant naive_fields_to_instant(PyObject* dt) noexcept {
  const std::int64_t days = days_from_civil(PyDateTime_GET_YEAR(dt),
                                            static_cast<unsigned>(PyDateTime_GET_MONTH(dt)),
                                            static_cast<unsigned>(PyDateTime_GET_DAY(dt)));
  return days * micros_per_day + PyDateTime_DATE_GET_HOUR(dt) * micros_per_hour +
         PyDateTime_DATE_GET_MINUTE(dt) * micros_per_minute +
         PyDateTime_DATE_GET_SECOND(dt) * micros_per_second + PyDateTime_DATE_GET_MICROSECOND(dt);
}

std::int64_t timedelta_micros(PyObject* td) noexcept {
  return PyDateTime_DELTA_GET_DAYS(td) * micros_per_day +
         PyDateTime_DELTA_GET_SECONDS(td) * micros_per_second +
         PyDateTime_DELTA_GET_MICROSECONDS(td);
}

}  // namespace

void import_datetime() {
  PyDateTime_IMPORT;
  if (!PyDateTimeAPI) throw py::error_already_set();
  utc_singleton = PyDateTime_TimeZone_UTC;
}

instant to_instant(py::handle value, const char* what) {
  PyObject* dt = value.ptr();
  if (!PyDateTime_Check(dt)) {
    throw py::type_error(std::string(what) + " must be a datetime, got " + type_name(dt));
  }
  PyObject* tz = PyDateTime_DATE_GET_TZINFO(dt);
  if (tz == utc_singleton) return naive_fields_to_instant(dt);
  if (tz == Py_None) {
    throw py::value_error(std::string(what) + " is a naive datetime (" +
                          py::str(value).cast<std::string>() +
                          "): pass a timezone-aware datetime");
  }
  const auto offset =
      py::reinterpret_steal<py::object>(PyObject_CallMethod(dt, "utcoffset", nullptr));
  if (!offset) throw py::error_already_set();
  if (offset.is_none()) {
    throw py::value_error(std::string(what) + " is a naive datetime (its tzinfo gives no offset)");
  }
  return naive_fields_to_instant(dt) - timedelta_micros(offset.ptr());
}

std::optional<instant> to_optional_instant(py::handle value, const char* what) {
  if (value.is_none()) return std::nullopt;
  return to_instant(value, what);
}

py::object to_datetime(instant t) {
  const local_time l = utc_local(t);
  PyObject* dt = PyDateTimeAPI->DateTime_FromDateAndTime(
      static_cast<int>(l.civil.year()), l.civil.month(), l.civil.day(), l.civil.hour(),
      l.civil.minute(), l.civil.second(), static_cast<int>(l.micros), utc_singleton,
      PyDateTimeAPI->DateTimeType);
  if (!dt) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(dt);
}

py::object to_optional_datetime(const std::optional<instant>& t) {
  return t ? to_datetime(*t) : py::object(py::none());
}

py::object to_datetime_or_none(const std::optional<instant>& t) {
  static const instant first = days_from_civil(1, 1, 1) * micros_per_day;
  static const instant last = days_from_civil(10000, 1, 1) * micros_per_day - 1;
  if (!t || *t < first || *t > last) return py::none();
  return to_datetime(*t);
}

py::list to_datetime_list(const instant* first, std::size_t count, std::ptrdiff_t stride) {
  py::list out(count);
  for (std::size_t i = 0; i < count; ++i) {
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i),
                    to_datetime(first[static_cast<std::ptrdiff_t>(i) * stride]).release().ptr());
  }
  return out;
}

std::int64_t to_micros(py::handle value, const char* what) {
  if (!PyDelta_Check(value.ptr())) {
    throw py::type_error(std::string(what) + " must be a timedelta, got " + type_name(value.ptr()));
  }
  return timedelta_micros(value.ptr());
}

py::object to_timedelta(std::int64_t micros) {
  const std::int64_t days = (micros >= 0 ? micros : micros - micros_per_day + 1) / micros_per_day;
  const std::int64_t rest = micros - days * micros_per_day;
  PyObject* td = PyDateTimeAPI->Delta_FromDelta(
      static_cast<int>(days), static_cast<int>(rest / micros_per_second),
      static_cast<int>(rest % micros_per_second), 1, PyDateTimeAPI->DeltaType);
  if (!td) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(td);
}

bool is_timedelta(py::handle value) { return PyDelta_Check(value.ptr()); }

}  // namespace dagcore::bindings
