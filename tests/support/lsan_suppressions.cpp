// Compiled into every test that links zks_testsupport (an INTERFACE source).
//
// libzookeeper-mt 3.8 leaks the completion entries of requests still on the
// wire at zookeeper_close(): free_completions() moves them to
// completions_to_process after the completion thread has been told to stop,
// and nothing frees that list. (The client completes those requests itself;
// see c_client.cpp.) LeakSanitizer is told to ignore allocations made inside
// the library; leaks of our own objects are still reported.

#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __lsan_default_suppressions() { return "leak:libzookeeper_mt.so\n"; }
#endif
