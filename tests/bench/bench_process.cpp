#include "bench/bench_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace zks::bench {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<MeasuredRun> runMeasured(const std::vector<std::string>& args, const std::string& scratch_dir,
                                std::chrono::seconds timeout) {
  const std::string out_file = scratch_dir + "/child.out";
  const std::string err_file = scratch_dir + "/child.err";
  // Everything the child needs exists before fork(): after it only
  // async-signal-safe calls are allowed.
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int out_fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0 || err_fd < 0) return fail(ErrorCode::kIo, std::string("open: ") + std::strerror(errno), scratch_dir);
  const pid_t parent = ::getpid();

  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) return fail(ErrorCode::kIo, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);

  // A watchdog kills the child at the deadline; wait4 below stays blocking so
  // the measured time has no polling granularity.
  std::mutex mu;
  std::condition_variable cv;
  bool exited = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, timeout, [&] { return exited; })) ::kill(pid, SIGKILL);
  });
  int status = 0;
  rusage usage{};
  pid_t waited;
  while ((waited = ::wait4(pid, &status, 0, &usage)) < 0 && errno == EINTR) {
  }
  const auto end = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu);
    exited = true;
  }
  cv.notify_all();
  watchdog.join();
  if (waited != pid) return fail(ErrorCode::kIo, std::string("wait4: ") + std::strerror(errno));

  MeasuredRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.seconds = std::chrono::duration<double>(end - start).count();
  run.max_rss_kb = usage.ru_maxrss;
  run.out = readFile(out_file);
  run.err = readFile(err_file);
  return run;
}

}  // namespace zks::bench
