// The cross-driver scenario machinery (health check, flip load, InjectAt) is shared with the
// hotunplug area: compiled into this area's executable too.
#include "../hotunplug/scenario.cpp"  // NOLINT(bugprone-suspicious-include)
