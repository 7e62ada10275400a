// SPDX-License-Identifier: MIT
// Pool (see pool.hpp): the public face of a manager (pool_manager.cpp) on local worker
// processes (pool_local_channel.cpp), or on the workers of another launcher.
#include <concur/multiprocessing/pool.hpp>

#include <concur/multiprocessing/context.hpp>

#include "pool_local_channel.hpp"
#include "pool_manager.hpp"

#include <utility>

namespace concur::multiprocessing {

namespace {

std::unique_ptr<detail::PoolCore> local_pool(PoolOptions options) {
  const std::size_t processes = detail::pool_processes(options.processes);
  std::string method = options.start_method.empty() ? get_start_method() : std::move(options.start_method);
  (void)get_context(method);  // ValueError for an unknown method
  return std::make_unique<detail::PoolCore>(
      detail::make_local_launcher(std::move(method), options.initializer.take_target(), options.maxtasksperchild), processes,
      options.maxtasksperchild);
}

}  // namespace

Pool::Pool(PoolOptions options) : m_core(local_pool(std::move(options))) {}
Pool::Pool(std::unique_ptr<detail::WorkerLauncher> launcher, std::size_t processes, std::size_t maxtasksperchild) {
  if (!launcher) throw ValueError("a Pool needs a worker launcher");
  if (processes < 1) throw ValueError("Number of processes must be at least 1");
  m_core = std::make_unique<detail::PoolCore>(std::move(launcher), processes, maxtasksperchild);
}
Pool::Pool(Pool&&) noexcept = default;
Pool& Pool::operator=(Pool&& other) noexcept {
  if (this != &other) {
    if (m_core) {
      m_core->terminate();
      m_core->join();
    }
    m_core = std::move(other.m_core);
  }
  return *this;
}
Pool::~Pool() = default;  // PoolCore's destructor terminates and joins

void Pool::submit(std::vector<detail::PoolTask> tasks, const char* job) { (void)submit_part(tasks, job, 0, true); }
std::uint64_t Pool::submit_part(std::vector<detail::PoolTask>& tasks, const char* job, std::uint64_t job_id, bool last) {
  if (!m_core) throw ValueError("Pool not running");
  return m_core->submit(tasks, job, job_id, last);
}
void Pool::end_job(std::uint64_t job_id) noexcept {
  std::vector<detail::PoolTask> none;
  if (m_core) (void)m_core->submit(none, "", job_id, true);
}
void Pool::close() {
  if (m_core) m_core->close();
}
void Pool::terminate() {
  if (m_core) m_core->terminate();
}
void Pool::join() {
  if (!m_core) throw ValueError("Pool is not running");
  m_core->join();
}
void Pool::cancel_pending() {
  if (m_core) m_core->cancel_pending();
}
std::size_t Pool::processes() const { return m_core ? m_core->processes() : 0; }

}  // namespace concur::multiprocessing
