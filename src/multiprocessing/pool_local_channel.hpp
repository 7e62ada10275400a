// SPDX-License-Identifier: MIT
// Private to src/multiprocessing: the Pool's local channel — a worker process (forked, or
// started by the fork server) reached through a Unix socket and a shared page.
//
// Tasks go out as frames (wire.hpp) on the socket, each with the task's id as its tag;
// replies come back the same way. The worker records in the shared page (WorkerPage,
// pool_worker.hpp) the id of the task it is running, so that once it died the manager knows
// which one to fail. A task's large blocks travel in a shared-memory segment whose descriptor
// rides with the frame.
#pragma once

#include <concur/multiprocessing/detail/pool_channel.hpp>
#include <concur/multiprocessing/process.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace concur::multiprocessing::detail {

/// Starts local worker processes with `start_method` ("fork" or "forkserver"), each running
/// `initializer` (if any) first and exiting after `maxtasks` tasks (0: no limit).
std::unique_ptr<WorkerLauncher> make_local_launcher(std::string start_method, const std::optional<ProcessTarget>& initializer,
                                                    std::size_t maxtasks);

}  // namespace concur::multiprocessing::detail
