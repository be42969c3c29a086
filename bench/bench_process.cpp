#include "bench/bench_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace zks::bench {
namespace {

constexpr const char* kHelperFlag = "--zks-measured-child";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Child {
  int status = 0;
  rusage usage{};
  double seconds = 0;
};

// fork + exec `argv` with the given stdout/stderr (-1: inherit), wait4 for
// it, SIGKILL at `timeout`. Only async-signal-safe calls after fork().
Result<Child> forkExecWait(std::vector<std::string> args, int out_fd, int err_fd, std::chrono::seconds timeout) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) return fail(ErrorCode::kIo, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (out_fd >= 0) ::dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  // A watchdog kills the child at the deadline; wait4 stays blocking so the
  // measured time has no polling granularity.
  std::mutex mu;
  std::condition_variable cv;
  bool exited = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, timeout, [&] { return exited; })) ::kill(pid, SIGKILL);
  });
  Child child;
  pid_t waited;
  while ((waited = ::wait4(pid, &child.status, 0, &child.usage)) < 0 && errno == EINTR) {
  }
  child.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    std::lock_guard lock(mu);
    exited = true;
  }
  cv.notify_all();
  watchdog.join();
  if (waited != pid) return fail(ErrorCode::kIo, std::string("wait4: ") + std::strerror(errno));
  return child;
}

}  // namespace

std::optional<int> measuredChildMain(int argc, char** argv) {
  // zks-bench-sync --zks-measured-child RESULT_FILE TIMEOUT_S program args...
  if (argc < 5 || std::strcmp(argv[1], kHelperFlag) != 0) return std::nullopt;
  const std::string result_file = argv[2];
  const auto timeout = std::chrono::seconds(std::atol(argv[3]));
  std::vector<std::string> args(argv + 4, argv + argc);
  auto child = forkExecWait(std::move(args), -1, -1, timeout);
  if (!child) {
    std::fprintf(stderr, "measured child: %s\n", child.error().describe().c_str());
    return 2;
  }
  const int code = WIFEXITED(child->status) ? WEXITSTATUS(child->status) : -1;
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  std::ofstream(result_file) << code << " " << child->seconds << " " << child->usage.ru_maxrss << " "
                             << secs(child->usage.ru_utime) << " " << secs(child->usage.ru_stime) << "\n";
  return 0;
}

Result<MeasuredRun> runMeasured(const std::vector<std::string>& args, const std::string& scratch_dir,
                                std::chrono::seconds timeout) {
  const std::string out_file = scratch_dir + "/child.out";
  const std::string err_file = scratch_dir + "/child.err";
  const std::string result_file = scratch_dir + "/child.result";
  std::vector<std::string> helper = {"/proc/self/exe", kHelperFlag, result_file, std::to_string(timeout.count())};
  helper.insert(helper.end(), args.begin(), args.end());
  const int out_fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0 || err_fd < 0) return fail(ErrorCode::kIo, std::string("open: ") + std::strerror(errno), scratch_dir);
  std::remove(result_file.c_str());
  // The helper enforces the deadline; ours is a backstop.
  auto ran = forkExecWait(std::move(helper), out_fd, err_fd, timeout + std::chrono::seconds(30));
  ::close(out_fd);
  ::close(err_fd);
  if (!ran) return std::unexpected(ran.error());
  MeasuredRun run;
  std::istringstream result(readFile(result_file));
  if (!(result >> run.exit_code >> run.seconds >> run.max_rss_kb >> run.user_s >> run.sys_s)) {
    return fail(ErrorCode::kIo, "the measuring helper reported nothing; stderr: " + readFile(err_file), result_file);
  }
  run.out = readFile(out_file);
  run.err = readFile(err_file);
  return run;
}

}  // namespace zks::bench
