// tests/plugins/noinit_plugin.cpp — a shared object that is not a udrm module (no
// udrm_module_init): loading it must fail with -ENOEXEC.
extern "C" __attribute__((visibility("default"))) int udrm_not_a_module(void) { return 42; }
