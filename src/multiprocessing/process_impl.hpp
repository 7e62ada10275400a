// SPDX-License-Identifier: MIT
// Private to src/multiprocessing: the state behind a Process handle, the child-side runner,
// the fork server client, and the registry of descriptors no child may inherit.
#pragma once

#include <concur/multiprocessing/process.hpp>

#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace concur::multiprocessing::detail {

struct ProcessData {
  enum class State {
    created,  // constructed; `target` holds the work
    started,  // forked; pid and sentinel valid; exitcode set once reaped
    closed,   // close() released the sentinel
  };

  mutable std::mutex mutex;  // guards every field below
  std::string name;
  bool daemon = false;
  std::string start_method;        // "" until start: then the method used
  std::optional<ProcessTarget> target;  // set while created
  State state = State::created;
  int pid = 0;                     // > 0 once started
  UniqueFd pidfd;                  // names the child itself (signals go through it); empty once closed
  // Forkserver children only: the status socket (its reporter sends the wait status there;
  // readable then, or at EOF if the reporter died). The sentinel. Empty once closed.
  UniqueFd status;
  bool via_server = false;         // child of the fork server: its status comes through `status`
  bool reporter_lost = false;      // `status` hit EOF without a status; it now holds a dup of `pidfd`
  std::optional<int> exitcode;     // once the child was reaped
  bool is_self = false;            // the handle of current_process()
  bool is_parent = false;          // the handle of parent_process()
  std::string identity;            // "3:1" for Process-3:1 (its children are named from it)
};

/// Runs a child's target and ends the child (never returns). `identity`, `name`, `daemon` and
/// the parent's pid/name become current_process()/parent_process() in the child.
[[noreturn]] void run_child(const ProcessTarget& target, const std::string& name, const std::string& identity,
                            bool daemon, int parent_pid, const std::string& parent_name);

/// A child of the fork server: its pid, a pidfd of it, and the parent's end of its status
/// socket, where its reporter sends its wait status (see forkserver.cpp).
struct ServerChild {
  int pid = 0;
  UniqueFd pidfd;
  UniqueFd status;
};
/// Asks the fork server (started if needed) to fork a child running `target`.
ServerChild forkserver_spawn(ProcessTarget& target, const std::string& name, const std::string& identity, bool daemon);

/// Descriptors that belong to this process only (the parent ends of a Pool's channels): a
/// child forked with "fork" closes them first thing.
void register_parent_only_fd(int fd);
void unregister_parent_only_fd(int fd);
std::vector<int> parent_only_fds();

/// Exit code from a wait status: the code, or -signal.
int exitcode_from_status(int status) noexcept;

/// Python's wait(object_list, timeout) for descriptors: the ones readable within `timeout`.
std::vector<int> wait_readable(std::span<const int> fds, std::optional<Timeout> timeout);

}  // namespace concur::multiprocessing::detail
