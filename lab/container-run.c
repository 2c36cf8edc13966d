// container-run ROOT PROGRAM [ARG...]: runs PROGRAM the way a container
// runtime does, with ROOT as its whole file system: new mount and PID
// namespaces, ROOT bind-mounted and made the root with pivot_root(2) (so the
// paths the kernel shows for its files, in /proc/PID/maps and exe, are the
// container's own: /usr/bin/..., not ROOT/usr/bin/...), a fresh /proc and a
// read-only /sys (EAL counts CPUs there). PROGRAM is pid 1 of its namespace.
//
// The parent stays in the caller's namespaces: it prints "container-run: pid
// N" (the child's pid as the caller sees it) on stderr, passes SIGINT and
// SIGTERM on, and exits with the child's status; the child dies with it
// (PR_SET_PDEATHSIG), so killing this process never leaves the program behind.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

static void die(const char *what) {
  fprintf(stderr, "container-run: %s: %s\n", what, strerror(errno));
  _exit(127);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: container-run ROOT PROGRAM [ARG...]\n");
    return 2;
  }
  const char *root = argv[1];
  if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) die("unshare");
  child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    // (getppid() is 0 here, the parent being outside the new PID namespace: no check that it still lives.)
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("prctl");
    // Mounts made here must not reach the caller's namespace.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
    if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) != 0) die("bind the root");
    if (chdir(root) != 0) die("chdir root");
    if (mkdir(".old-root", 0700) != 0 && errno != EEXIST) die("mkdir .old-root");
    if (syscall(SYS_pivot_root, ".", ".old-root") != 0) die("pivot_root");
    if (chdir("/") != 0) die("chdir /");
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die("mount /proc");
    if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die("mount /sys");
    if (umount2("/.old-root", MNT_DETACH) != 0) die("unmount the old root");
    rmdir("/.old-root");
    execv(argv[2], argv + 2);
    die("exec");
  }
  fprintf(stderr, "container-run: pid %d\n", (int)child);
  signal(SIGINT, forward);
  signal(SIGTERM, forward);
  int status;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) die("waitpid");
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
