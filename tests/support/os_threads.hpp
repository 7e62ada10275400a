// SPDX-License-Identifier: MIT
// The threads of this process, as the kernel lists them (/proc/self/task): what a test counts to
// prove that a joined thread is gone.
#pragma once

#include <dirent.h>

namespace concur_test {

/// The number of entries of /proc/self/task, or -1 when it cannot be read.
inline int count_os_threads() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n;
}

}  // namespace concur_test
