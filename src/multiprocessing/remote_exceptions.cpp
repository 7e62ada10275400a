// SPDX-License-Identifier: MIT
// The registry of exception types a worker's failure is rebuilt as (see remote_exceptions.hpp).
#include <concur/multiprocessing/remote_exceptions.hpp>

#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace concur::multiprocessing::detail {

namespace {
struct ExceptionRegistry {
  std::mutex mutex;  // guards factories
  std::unordered_map<std::string, std::exception_ptr (*)(const std::string&)> factories;
};
ExceptionRegistry& registry() {
  static ExceptionRegistry* r = [] {
    auto* reg = new ExceptionRegistry;  // never destroyed: used until the very end
    auto add = [reg]<class E>(std::type_identity<E>) {
      reg->factories[exception_type_name(std::make_exception_ptr(E(std::string())))] =
          [](const std::string& m) { return std::make_exception_ptr(E(m)); };
    };
    add(std::type_identity<std::runtime_error>{});
    add(std::type_identity<std::logic_error>{});
    add(std::type_identity<std::invalid_argument>{});
    add(std::type_identity<std::out_of_range>{});
    add(std::type_identity<std::length_error>{});
    add(std::type_identity<std::domain_error>{});
    add(std::type_identity<std::range_error>{});
    add(std::type_identity<std::overflow_error>{});
    add(std::type_identity<std::underflow_error>{});
    add(std::type_identity<concur::RuntimeError>{});
    add(std::type_identity<concur::ValueError>{});
    add(std::type_identity<concur::TimeoutError>{});
    add(std::type_identity<concur::EOFError>{});
    add(std::type_identity<SerializationError>{});
    return reg;
  }();
  return *r;
}
}  // namespace

void register_exception_factory(std::string type_name, std::exception_ptr (*factory)(const std::string&)) {
  auto& r = registry();
  std::scoped_lock lock(r.mutex);
  r.factories[std::move(type_name)] = factory;
}

std::exception_ptr clone_exception(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const RemoteError& r) {
    return std::make_exception_ptr(RemoteError(r.type_name(), r.message()));
  } catch (const ProcessError& p) {
    if (exception_type_name(e) == "concur::ProcessError") return std::make_exception_ptr(ProcessError(p.what()));
  } catch (...) {
  }
  const std::string type = exception_type_name(e);
  auto& r = registry();
  std::exception_ptr (*factory)(const std::string&) = nullptr;
  {
    std::scoped_lock lock(r.mutex);
    auto it = r.factories.find(type);
    if (it != r.factories.end()) factory = it->second;
  }
  return factory != nullptr ? factory(exception_message(e)) : e;
}

std::exception_ptr rebuild_exception(const std::string& type_name, const std::string& message) {
  auto& r = registry();
  {
    std::scoped_lock lock(r.mutex);
    auto it = r.factories.find(type_name);
    if (it != r.factories.end()) return it->second(message);
  }
  return std::make_exception_ptr(RemoteError(type_name, message));
}

}  // namespace concur::multiprocessing::detail
