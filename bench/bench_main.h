// bench/bench_main.h — main() for the benchmarks that time real threads.
//
// glibc and libstdc++ switch to real atomic operations (and locked refcounts) once a second
// thread has existed; before that, some are plain. A benchmark comparing against a threaded
// baseline must measure in the threaded mode from its first iteration, so main() starts and
// joins a thread before running anything (docs/perf.md, "measuring traps").
#pragma once
#include <benchmark/benchmark.h>

#include <thread>

#define UDRM_BENCHMARK_MAIN_THREADED()                                       \
  int main(int argc, char** argv) {                                          \
    std::thread([] {}).join();                                               \
    benchmark::Initialize(&argc, argv);                                      \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;        \
    benchmark::RunSpecifiedBenchmarks();                                     \
    benchmark::Shutdown();                                                   \
    return 0;                                                                \
  }
