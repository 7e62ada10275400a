// SPDX-License-Identifier: MIT
// Private to concur_multiprocessing: the shared-memory tracker (see shared_memory.hpp's essay).
//
// Protocol: one SOCK_SEQPACKET datagram per request, "R<name>" (register) or "U<name>"
// (unregister), names without the leading '/'. Seqpacket keeps concurrent senders of several
// processes from interleaving, and send(MSG_NOSIGNAL) turns a vanished tracker into EPIPE
// instead of SIGPIPE. The tracker ends when recv() reports that every sender is gone, after
// unlinking whatever is still registered.
#pragma once

#include <string>
#include <vector>

namespace concur::multiprocessing::detail::shm_tracker {

/// Registers `name` for cleanup, starting this process's tracker when it has none. Throws
/// OSError when no tracker can be started or reached.
void register_name(const std::string& name);
/// Unregisters `name`; closes this process's tracker connection once it registers nothing.
/// Never throws: at worst the tracker unlinks an already-unlinked name.
void unregister_name(const std::string& name) noexcept;
/// The names this process registered and has not unregistered.
std::vector<std::string> registered_names();

}  // namespace concur::multiprocessing::detail::shm_tracker
