// SPDX-License-Identifier: MIT
// concur/multiprocessing/remote_exceptions.hpp — exceptions that cross back from a worker:
// register_exception, and the registry behind it.
//
//     struct QuotaExceeded : std::runtime_error { using std::runtime_error::runtime_error; };
//     mp::register_exception<QuotaExceeded>();   // in the parent, before the results arrive
//     try { pool.apply(charge, 7); } catch (const QuotaExceeded& e) { ... }
//
// A worker (of a Pool, a ProcessPoolExecutor, or any other pool built on the same manager)
// sends a failed task back as its exception's dynamic type name and message. The parent
// rebuilds it from this registry: as its own type when that type is registered, otherwise as
// RemoteError carrying the type name and message (Python pickles the exception itself; a C++
// exception has no portable encoding, so the type is named instead). The standard exception
// types of <stdexcept> and concur's ValueError, RuntimeError, TimeoutError, EOFError and
// SerializationError are registered from the start.
//
// Thread safety: register_exception and the detail functions may be called from any thread;
// the registry is a process-wide table under a lock, never destroyed.
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>

#include <exception>
#include <string>
#include <type_traits>

namespace concur::multiprocessing::detail {

/// A copy of the exception held by `e`, made by (and so owned only by) the calling thread:
/// results hand these out rather than the stored exception, whose last reference may be
/// dropped by the pool's manager thread. (The reference count of an exception_ptr lives in
/// the uninstrumented C++ runtime, so ThreadSanitizer cannot see that such a drop is ordered
/// after the consumer's reads; a private copy keeps every access on one thread.) Falls back
/// to `e` for a type it cannot copy (not registered, not a ProcessError).
CONCUR_API std::exception_ptr clone_exception(const std::exception_ptr& e);
/// Rebuilds a worker's exception in the parent: the registered type, or RemoteError.
CONCUR_API std::exception_ptr rebuild_exception(const std::string& type_name, const std::string& message);
/// Registers how to rebuild exceptions whose dynamic type name is `type_name`.
CONCUR_API void register_exception_factory(std::string type_name, std::exception_ptr (*factory)(const std::string&));

}  // namespace concur::multiprocessing::detail

namespace concur::multiprocessing {

/// Exceptions of type E thrown in a worker come back as E (built from the message) instead of
/// RemoteError. E must be constructible from a std::string. The standard exception types of
/// `<stdexcept>` and concur's ValueError, RuntimeError, TimeoutError and EOFError are
/// registered from the start. Call it in the parent (where results are rebuilt).
template <class E>
void register_exception() {
  static_assert(std::is_constructible_v<E, std::string>,
                "concur::multiprocessing::register_exception: the type must be constructible from its message");
  detail::register_exception_factory(exception_type_name(std::make_exception_ptr(E(std::string()))),
                                     [](const std::string& message) { return std::make_exception_ptr(E(message)); });
}

}  // namespace concur::multiprocessing
