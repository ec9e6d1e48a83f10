#pragma once
// The "exec" handler: runs a configured command for each event.
//  1. The command (argv, no shell; argv[0] searched in PATH when it has no '/') starts in its
//     own process group, in the receiver's working directory.
//  2. stdin is the raw payload; stdout goes to /dev/null; the last 2 KiB of stderr are kept.
//  3. The environment is the receiver's minus every variable whose name contains SECRET, KEY,
//     TOKEN, PASSWORD, PASSWD or CREDENTIAL (any case): the receiver's own secrets never reach
//     the child. Then WEBHOOK_EVENT_ID (the inbox row id), WEBHOOK_EVENT_TYPE,
//     WEBHOOK_ENTITY_KIND, WEBHOOK_ENTITY_ID, WEBHOOK_SOURCE, WEBHOOK_REQUEST_ID, WEBHOOK_ATTEMPT
//     (StoredEvent::attempts: 1 on the first run) and WEBHOOK_RECEIVED_AT_MS are set.
//  4. Results: exit 0 = success; another exit status or death by a signal = retryable
//     ("exit N: <stderr tail>"); past the timeout the whole process group is killed (SIGKILL)
//     and reaped = retryable ("timed out after N ms"); a command that cannot be executed
//     (ENOENT, EACCES, ENOEXEC, ENOTDIR) = permanent, since running it again cannot help; other
//     start failures (EAGAIN, ENOMEM, EMFILE) = retryable.
// Thread-safe: several workers may run it at once (each call has its own process and pipes).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "webhook/worker/handler.hpp"

namespace webhook::worker {

struct ExecOptions {
  std::vector<std::string> command;  // argv; command[0] is the program
  std::chrono::milliseconds timeout{10000};
};

// Throws std::invalid_argument for an empty command, an empty program name or a non-positive
// timeout (configuration errors, at start-up).
std::unique_ptr<Handler> make_exec_handler(ExecOptions options);

}  // namespace webhook::worker
