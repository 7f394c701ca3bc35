/*
 * A stand-in for the e2e "nonewprivs" test program: installed setuid root in critest's
 * nonewprivs image equivalent, it prints the effective uid it runs with. Started as an
 * unprivileged user, it prints 0 when the kernel honours the setuid bit and that user's uid
 * when no_new_privs is set (critest's security-context specs read this line from the log).
 * Built static by tools/artifacts, never committed as a binary.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("Effective uid: %d\n", (int)geteuid());
  return 0;
}
