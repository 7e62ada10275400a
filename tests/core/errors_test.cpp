// SPDX-License-Identifier: MIT
// concur/errors.hpp: the shared error vocabulary.
#include "concur/errors.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

TEST(Errors, CancelledErrorIsNotCaughtAsStdException) {
  bool caught_as_cancelled = false;
  try {
    try {
      throw concur::CancelledError("stop");
    } catch (const std::exception&) {
      FAIL() << "catch (const std::exception&) swallowed a CancelledError";
    }
  } catch (const concur::CancelledError& e) {
    caught_as_cancelled = true;
    EXPECT_STREQ(e.what(), "stop");
  }
  EXPECT_TRUE(caught_as_cancelled);
}

TEST(Errors, CancelledErrorIsABaseException) {
  try {
    throw concur::CancelledError();
  } catch (const concur::BaseException& e) {
    EXPECT_STREQ(e.what(), "");
  }
}

TEST(Errors, PythonNamedTypesDeriveFromTheClosestStandardException) {
  EXPECT_THROW(throw concur::RuntimeError("x"), std::runtime_error);
  EXPECT_THROW(throw concur::ValueError("x"), std::invalid_argument);
  EXPECT_THROW(throw concur::BrokenBarrierError(), concur::RuntimeError);
  EXPECT_THROW(throw concur::InvalidStateError("x"), concur::RuntimeError);
  EXPECT_THROW(throw concur::futures::BrokenThreadPool("x"), concur::futures::BrokenExecutor);
  EXPECT_THROW(throw concur::queue::ShutDown(), std::runtime_error);
  EXPECT_THROW(throw concur::asyncio::IncompleteReadError("ab", 4), concur::EOFError);
}

TEST(Errors, ThrowOsErrorPicksThePythonNamedConnectionErrors) {
  EXPECT_THROW(concur::throw_os_error(ECONNRESET, "read"), concur::ConnectionResetError);
  EXPECT_THROW(concur::throw_os_error(ECONNREFUSED, "connect"), concur::ConnectionRefusedError);
  EXPECT_THROW(concur::throw_os_error(ECONNABORTED, "accept"), concur::ConnectionAbortedError);
  EXPECT_THROW(concur::throw_os_error(EPIPE, "write"), concur::BrokenPipeError);
}

TEST(Errors, ThrowOsErrorKeepsTheErrnoOfOtherFailures) {
  try {
    concur::throw_os_error(EACCES, "open");
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::error_code(EACCES, std::generic_category()));
    EXPECT_NE(std::string(e.what()).find("open"), std::string::npos);
  }
}

TEST(Errors, OSErrorConstructsFromAMessageAloneAsInPython) {
  const concur::OSError e("the disk is on fire");
  EXPECT_STREQ(e.what(), "the disk is on fire");
  EXPECT_EQ(e.errno_value(), 0);  // Python's errno is None
  EXPECT_FALSE(e.code());
  const concur::OSError copy = e;
  EXPECT_STREQ(copy.what(), "the disk is on fire");
  try {
    throw concur::ConnectionError(std::string("peer went away"));
  } catch (const concur::OSError& caught) {
    EXPECT_STREQ(caught.what(), "peer went away");
  }
  // With an errno: the message once, then the errno's.
  EXPECT_STREQ(concur::OSError(ENOENT, "open('x')").what(), "open('x'): No such file or directory");
  EXPECT_STREQ(concur::OSError(ENOENT).what(), "No such file or directory");
  EXPECT_STREQ(concur::FileNotFoundError().what(), "No such file or directory");
}

TEST(Errors, ExceptionTypeNameIsTheDemangledDynamicType) {
  std::exception_ptr e;
  try {
    throw std::out_of_range("index 7");
  } catch (...) {
    e = std::current_exception();
  }
  EXPECT_EQ(concur::exception_type_name(e), "std::out_of_range");
  EXPECT_EQ(concur::exception_message(e), "index 7");
}

TEST(Errors, ExceptionTypeNameHandlesNonStdAndNonClassExceptions) {
  auto cancelled = std::make_exception_ptr(concur::CancelledError("why"));
  EXPECT_EQ(concur::exception_type_name(cancelled), "concur::CancelledError");
  EXPECT_EQ(concur::exception_message(cancelled), "why");
  auto integer = std::make_exception_ptr(42);
  EXPECT_EQ(concur::exception_type_name(integer), "int");
  EXPECT_EQ(concur::exception_message(integer), "");
  EXPECT_EQ(concur::exception_type_name(nullptr), "no exception");
}

TEST(Errors, ExceptionGroupKeepsEveryExceptionInOrder) {
  concur::ExceptionGroup group("unhandled errors in a TaskGroup",
                               {std::make_exception_ptr(concur::ValueError("a")),
                                std::make_exception_ptr(concur::RuntimeError("b"))});
  ASSERT_EQ(group.exceptions().size(), 2u);
  EXPECT_EQ(concur::exception_message(group.exceptions()[0]), "a");
  EXPECT_EQ(concur::exception_type_name(group.exceptions()[1]), "concur::RuntimeError");
}

TEST(Errors, RemoteErrorCarriesTheRemoteTypeAndMessage) {
  concur::multiprocessing::RemoteError e("std::out_of_range", "vector::at");
  EXPECT_EQ(e.type_name(), "std::out_of_range");
  EXPECT_EQ(e.message(), "vector::at");
  EXPECT_STREQ(e.what(), "std::out_of_range: vector::at");
}

}  // namespace
