// tracetext: runs a command under ptrace, with a breakpoint on the entry of
// every function of one ELF file, in it and every process it forks, and
// writes which functions ran.
//
//   tracetext OUT FILE ENTRIES -- CMD [ARGS...]
//
// FILE is the binary whose functions are watched (husk, unstripped); ENTRIES
// lists the file offsets of their entries, one hex number a line. OUT receives
// the offsets that were hit, in the order each was first hit across all traced
// processes. A process that execs something other than FILE is detached; one
// that execs FILE again gets its breakpoints again.
//
// Used by hack/layout/gen-order.sh to lay out husk's code so that each command
// faults in as few pages as possible. A breakpoint costs one ptrace stop the
// first time it is hit in a process, then it is removed.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXPROC 256

struct proc {
	pid_t pid;
	uint64_t lo, hi, off; // executable mapping of FILE: [lo,hi) at file offset off
	int started;
};

static struct proc procs[MAXPROC];
static ino_t file_ino;
static uint64_t *entries; // sorted file offsets
static uint8_t *orig;     // the byte each breakpoint replaced
static uint8_t *hit;      // reported already (in any process)
static size_t n_entries;
static FILE *out;

static struct proc *find(pid_t pid, int create)
{
	for (int i = 0; i < MAXPROC; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	if (!create)
		return NULL;
	for (int i = 0; i < MAXPROC; i++)
		if (procs[i].pid == 0) {
			memset(&procs[i], 0, sizeof procs[i]);
			procs[i].pid = pid;
			return &procs[i];
		}
	fprintf(stderr, "tracetext: too many processes\n");
	exit(1);
}

// Finds FILE's executable mapping in pid by inode (the path may be reached
// through another name, e.g. /proc/self/exe; and husk re-executes itself
// through a private overlayfs, which keeps the inode number but shows a
// device of its own). Returns 0 when absent.
static int load_map(struct proc *p)
{
	char path[64], line[PATH_MAX + 128];
	snprintf(path, sizeof path, "/proc/%d/maps", p->pid);
	FILE *f = fopen(path, "r");
	p->lo = p->hi = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi, off, ino;
		unsigned maj, min;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &off, &maj, &min, &ino) != 7)
			continue;
		if (perms[2] != 'x' || ino != file_ino)
			continue;
		p->lo = lo, p->hi = hi, p->off = off;
		break;
	}
	fclose(f);
	return p->hi != 0;
}

static int poke_byte(pid_t pid, uint64_t addr, uint8_t val, uint8_t *old)
{
	errno = 0;
	long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)addr, 0);
	if (errno)
		return -1;
	if (old)
		*old = (uint8_t)word;
	word = (word & ~0xffL) | val;
	return ptrace(PTRACE_POKETEXT, pid, (void *)addr, (void *)word) == 0 ? 0 : -1;
}

static void arm(struct proc *p)
{
	for (size_t i = 0; i < n_entries; i++) {
		uint64_t a = entries[i] - p->off + p->lo;
		if (a < p->lo || a >= p->hi)
			continue;
		if (poke_byte(p->pid, a, 0xcc, &orig[i]) != 0) {
			fprintf(stderr, "tracetext: cannot set a breakpoint at %lx in %d\n", (unsigned long)a, p->pid);
			exit(1);
		}
	}
}

static long lookup(uint64_t off)
{
	size_t lo = 0, hi = n_entries;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (entries[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n_entries && entries[lo] == off ? (long)lo : -1;
}

// A SIGTRAP right after one of our int3s: put the byte back, rewind, report.
static int on_breakpoint(struct proc *p)
{
	struct user_regs_struct regs;
	if (!p->hi || ptrace(PTRACE_GETREGS, p->pid, 0, &regs) != 0)
		return 0;
	uint64_t a = regs.rip - 1;
	if (a < p->lo || a >= p->hi)
		return 0;
	long i = lookup(a - p->lo + p->off);
	if (i < 0)
		return 0;
	poke_byte(p->pid, a, orig[i], NULL);
	regs.rip = a;
	ptrace(PTRACE_SETREGS, p->pid, 0, &regs);
	if (!hit[i]) {
		hit[i] = 1;
		fprintf(out, "%lx\n", (unsigned long)entries[i]);
	}
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void read_entries(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(1);
	}
	size_t cap = 4096;
	entries = malloc(cap * sizeof *entries);
	unsigned long v;
	while (fscanf(f, "%lx", &v) == 1) {
		if (n_entries == cap)
			entries = realloc(entries, (cap *= 2) * sizeof *entries);
		entries[n_entries++] = v;
	}
	fclose(f);
	qsort(entries, n_entries, sizeof *entries, cmp_u64);
	orig = calloc(n_entries + 1, 1);
	hit = calloc(n_entries + 1, 1);
}

int main(int argc, char **argv)
{
	if (argc < 6 || strcmp(argv[4], "--") != 0) {
		fprintf(stderr, "usage: tracetext OUT FILE ENTRIES -- CMD [ARGS...]\n");
		return 2;
	}
	struct stat st;
	if (stat(argv[2], &st) != 0) {
		perror(argv[2]);
		return 1;
	}
	file_ino = st.st_ino;
	read_entries(argv[3]);
	out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}

	pid_t root = fork();
	if (root < 0) {
		perror("fork");
		return 1;
	}
	if (root == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execvp(argv[5], argv + 5);
		perror(argv[5]);
		_exit(127);
	}
	int status, root_status = 0, live = 1;
	waitpid(root, &status, 0); // the SIGSTOP before exec
	ptrace(PTRACE_SETOPTIONS, root, 0,
	       PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
		       PTRACE_O_EXITKILL);
	find(root, 1)->started = 1;
	ptrace(PTRACE_CONT, root, 0, 0);

	while (live > 0) {
		pid_t pid = waitpid(-1, &status, __WALL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		struct proc *p = find(pid, 1);
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (pid == root)
				root_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			p->pid = 0;
			live--;
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		int sig = WSTOPSIG(status), event = (unsigned)status >> 16, deliver = 0;
		if (!p->started) {
			// A new child's first stop: it inherited its parent's memory, armed
			// breakpoints included.
			p->started = 1;
			live++;
			load_map(p);
		} else if (event == PTRACE_EVENT_EXEC) {
			if (!load_map(p)) {
				ptrace(PTRACE_DETACH, pid, 0, 0);
				p->pid = 0;
				live--;
				continue;
			}
			arm(p);
		} else if (event) {
			// fork/vfork/clone: the child is picked up at its own first stop.
		} else if (sig == SIGTRAP) {
			if (!on_breakpoint(p))
				deliver = sig;
		} else {
			deliver = sig;
		}
		ptrace(PTRACE_CONT, pid, 0, deliver);
	}
	fclose(out);
	return root_status;
}
