// SPDX-License-Identifier: MIT
// Helpers declared in concur/errors.hpp.
#include "concur/errors.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace concur {

void throw_os_error(int err, const std::string& what) {
  switch (err) {
    case ECONNRESET: throw ConnectionResetError(what);
    case ECONNREFUSED: throw ConnectionRefusedError(what);
    case ECONNABORTED: throw ConnectionAbortedError(what);
    case EPIPE: throw BrokenPipeError(what);
    default: throw OSError(err, what);
  }
}

namespace {
std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled);
}
}  // namespace

std::string exception_type_name(const std::exception_ptr& e) {
  if (!e) return "no exception";
  try {
    std::rethrow_exception(e);
  } catch (...) {
    // The type of the exception being handled, whatever it is (class or not).
    if (const std::type_info* type = abi::__cxa_current_exception_type()) return demangle(type->name());
  }
  return "unknown exception";
}

std::string exception_message(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (const BaseException& ex) {
    return ex.what();
  } catch (...) {
  }
  return {};
}

}  // namespace concur
