/*
 * A minimal pod sandbox ("pause") process for the project's locally built sandbox image.
 * It holds the pod's namespaces, reaps adopted children (it is PID 1 of the sandbox), and
 * exits 0 on SIGINT/SIGTERM. Built static by tests/artifacts, never committed as a binary.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  struct sigaction sa;
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    static const char msg[] = "kubenode-pause 1.0\n";
    write(1, msg, sizeof(msg) - 1);
    return 0;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) {
    pause();
  }
  return 1;
}
