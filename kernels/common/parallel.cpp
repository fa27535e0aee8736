#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <kget/kernel_abi.h>
#include <pthread.h>
#include <sched.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace kget_kernels {
namespace {

struct ThreadConfig {
  int threads = 1;
  int status = KGET_KERNEL_OK;
  char message[160] = {};
};

int affinity_cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) {
      return count;
    }
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

ThreadConfig read_thread_config() {
  ThreadConfig config;
  config.threads = affinity_cpu_count();
  const char* text = std::getenv("KGET_KERNEL_CPU_THREADS");
  if (!text || !*text) {
    return config;
  }
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > 1024) {
    config.status = KGET_KERNEL_ERROR_INVALID_ARGUMENT;
    std::snprintf(config.message, sizeof config.message,
                  "KGET_KERNEL_CPU_THREADS=%.40s: expected an integer from 1 to 1024", text);
    return config;
  }
  config.threads = static_cast<int>(value);
  return config;
}

const ThreadConfig& thread_config() {
  static const ThreadConfig config = read_thread_config();
  return config;
}

// One parallel_for_ranges call: ranges are handed out through an atomic counter, so a thread
// that was descheduled (2 cores shared with other work) does not hold up the others.
struct Job {
  RangeFn fn = nullptr;
  void* context = nullptr;
  int64_t count = 0;
  int64_t grain = 1;
  int64_t ranges = 0;
  std::atomic<int64_t> next{0};

  void work() {
    for (;;) {
      const int64_t index = next.fetch_add(1, std::memory_order_relaxed);
      if (index >= ranges) {
        return;
      }
      const int64_t begin = index * grain;
      fn(context, begin, std::min(count, begin + grain));
    }
  }
};

// A pthread mutex and condition variables rather than std::mutex/std::condition_variable:
// libstdc++ 12 binds std::condition_variable::wait to GLIBCXX_3.4.30 and std::mutex::try_lock to
// pthread_mutex_trylock@GLIBC_2.34, both newer than manylinux_2_28 allows; these pthread
// functions keep their GLIBC_2.2.5/2.3.2 versions (docs/kernels.md, "Runtime dependencies").
class Lock {
public:
  explicit Lock(pthread_mutex_t* mutex) : mutex_(mutex) { pthread_mutex_lock(mutex_); }
  ~Lock() { pthread_mutex_unlock(mutex_); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

private:
  pthread_mutex_t* mutex_;
};

class Pool {
public:
  explicit Pool(int workers) : owner_pid_(getpid()) {
    threads_.reserve(static_cast<size_t>(workers));
    for (int i = 0; i < workers; ++i) {
      try {
        threads_.emplace_back([this] { worker_loop(); });
      } catch (...) { // no more threads: work with those that started
        break;
      }
    }
  }

  // Runs the job on this thread and the workers. False when the pool is busy with another
  // caller's job or belongs to the parent of a fork(); the caller then works alone.
  bool try_run(Job& job) {
    bool idle = false;
    if (threads_.empty() || getpid() != owner_pid_ ||
        !busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
      return false;
    }
    {
      Lock lock(&mutex_);
      job_ = &job;
      open_ = true;
      ++generation_;
      pthread_cond_broadcast(&wake_);
    }
    job.work();
    {
      // Close the job, then wait for the workers inside it: `job` lives on the caller's stack.
      // A worker that wakes after this (descheduled on a busy machine) skips the job instead of
      // making the caller wait for it.
      Lock lock(&mutex_);
      open_ = false;
      while (active_ != 0) {
        pthread_cond_wait(&done_, &mutex_);
      }
      job_ = nullptr;
    }
    busy_.store(false, std::memory_order_release);
    return true;
  }

private:
  void worker_loop() {
    uint64_t seen = 0;
    pthread_mutex_lock(&mutex_);
    for (;;) {
      while (generation_ == seen) {
        pthread_cond_wait(&wake_, &mutex_);
      }
      seen = generation_;
      if (!open_) {
        continue; // woke too late: the caller did the work
      }
      Job* job = job_;
      ++active_;
      pthread_mutex_unlock(&mutex_);
      job->work();
      pthread_mutex_lock(&mutex_);
      if (--active_ == 0 && !open_) {
        pthread_cond_signal(&done_);
      }
    }
  }

  const pid_t owner_pid_;
  std::atomic<bool> busy_{false}; // set by the one caller whose job the pool runs
  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t wake_ = PTHREAD_COND_INITIALIZER;
  pthread_cond_t done_ = PTHREAD_COND_INITIALIZER;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  bool open_ = false; // job_ may still be joined
  int active_ = 0;    // workers inside job_->work()
  std::vector<std::thread> threads_;
};

// Created on first parallel use and never destroyed: a destructor would run at exit, when another
// thread may still be inside an op, and joining idle workers there buys nothing. The library is
// linked with -z nodelete, so its code stays mapped for the workers even if dlclose()d.
Pool* pool() {
  static Pool* const instance = [] {
    const int workers = cpu_thread_count() - 1;
    try {
      return workers > 0 ? new Pool(workers) : nullptr;
    } catch (...) { // out of memory: every call runs on its caller's thread
      return static_cast<Pool*>(nullptr);
    }
  }();
  return instance;
}

} // namespace

int cpu_thread_count() {
  return thread_config().threads;
}

int cpu_thread_config_status(const char** message) {
  *message = thread_config().message;
  return thread_config().status;
}

void parallel_for_ranges(int64_t count, int64_t grain, RangeFn fn, void* context) {
  if (count <= 0) {
    return;
  }
  grain = std::max<int64_t>(grain, 1);
  if (count <= grain || cpu_thread_count() <= 1) {
    fn(context, 0, count);
    return;
  }
  Job job;
  job.fn = fn;
  job.context = context;
  job.count = count;
  job.grain = grain;
  job.ranges = (count + grain - 1) / grain;
  Pool* threads = pool();
  if (!threads || !threads->try_run(job)) {
    job.work();
  }
}

} // namespace kget_kernels
