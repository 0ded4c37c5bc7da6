// SPDX-License-Identifier: GPL-2.0
/*
 * luo-fill: hand N MiB of memfd data over to the next kernel through the
 * Live Update Orchestrator (/dev/liveupdate, memfd preservation). Both our
 * kernel and stock 7.3 have it with the same UAPI, so the boot benchmarks
 * use it to preserve the same memory the same way on either kernel.
 *
 *   luo-fill [--seed S] <MiB>          fill a memfd, preserve it in session
 *                                      "khot-bench" and keep the session open
 *                                      in a background child until the kexec
 *   luo-fill --gaps [--seed S] <MiB>   the same, but after every third page
 *                                      of the memfd one page of a second,
 *                                      unpreserved memfd is touched, so that
 *                                      the preserved frames come in short
 *                                      runs with one-frame holes between them
 *   luo-fill --check [--seed S] <MiB>  after the kexec: retrieve the memfd
 *                                      and verify all of it
 *   --session NAME                     any of these with session NAME
 *                                      instead of "khot-bench"
 *   --huge 64K|2M|32M|1G               any of these with a HugeTLB memfd
 *                                      (MFD_HUGETLB) of that page size
 *                                      (64K and 32M: arm64 with 4 KiB pages)
 *   --dense                            with --huge: no hole, every huge
 *                                      page written (a guest's memory)
 *   luo-fill --discard                 after the kexec: retrieve the
 *                                      session and finish it without
 *                                      retrieving the memfd
 *   --cgroup                           with --huge: also print what the
 *                                      cgroup (v2) luo-fill runs in is
 *                                      charged for the memfd's page size:
 *                                      after the fill, after retrieve and
 *                                      once mapped again
 *   --retry FILE[=VALUE]               with --check --huge --cgroup, or
 *                                      --check of a shmem memfd: the
 *                                      first retrieve must be refused (a
 *                                      cgroup limit); print its error,
 *                                      the cgroup's charges and the free
 *                                      pages of the pool then (shmem:
 *                                      the memory.current of luo-fill's
 *                                      cgroup and Committed_AS, then and
 *                                      once retrieved), write VALUE
 *                                      ("max": the limit) to FILE and
 *                                      retrieve again in the same
 *                                      session
 *   --fault N                          with --check --huge: the retrieve's
 *                                      page cache insertion after the
 *                                      first N fails once with ENOMEM
 *                                      (fail_function on
 *                                      __filemap_add_folio: the next
 *                                      N + 1 calls in the whole guest,
 *                                      which is quiet while luo-fill
 *                                      runs); the first retrieve must be
 *                                      refused: print its error and the
 *                                      pool's free pages then, and
 *                                      retrieve again in the same session
 *   --rehearse                         with --huge: before the real
 *                                      preserve, one that is refused
 *                                      (a page past the end) and one
 *                                      undone (its session closed); each
 *                                      must leave the file resizable
 *   --noexec                           the memfd is made with
 *                                      MFD_NOEXEC_SEAL (mode 0666,
 *                                      F_SEAL_EXEC), as every memfd is
 *                                      under vm.memfd_noexec=1
 *   The file's position, seals and mode must come back too, and it must
 *   still map writable (--check). A --check whose retrieve fails tries
 *   once more, as is, and prints both errors ("FAIL retrieve memfd: E1;
 *   again: E2"): a final error must come back the same.
 *
 * The data: every byte of the file depends on its offset and on the seed
 * (guest/init passes the generation that filled it), so a page restored at
 * the wrong offset, a single changed byte anywhere, or a stale copy of an
 * earlier generation's file is caught. The 64-bit word k of page p holds
 * stamp(p, seed) + k. The last page of every MiB is a hole: never written
 * (preserving may allocate it; it must read back as zeros). The check
 * compares every word of every page, holes included, and the file's size.
 * In a HugeTLB memfd (--huge) every fourth huge page is a hole instead
 * (huge pages 3, 7, 11, ...): never written, so never allocated, and
 * the check reads it with pread(), which does not allocate a page
 * either, where a mapping's fault would; the data pages it reads through
 * a mapping without MAP_POPULATE, for the same reason. So the pool's
 * free count after a check still shows that no hole got a page.
 *
 * Prints one line ("luo-fill: ...") and exits 0 on success. Filling also
 * reads the memfd's frames from /proc/self/pagemap and prints how they lie:
 * runs of consecutive frames, steps of a power of two frames (2, 4, ...)
 * between neighbours, and other steps (holes are skipped). --check also
 * writes "luo-fill: check start", "luo-fill: retrieved" and "luo-fill:
 * verified" to /dev/console as it goes, so that the console shows when the
 * memfd came back and when its data was verified (the blackout benchmark
 * times those lines with the host's clock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <linux/liveupdate.h>

/* the session, "khot-bench" unless --session names another */
static const char *session = "khot-bench";
#define TOKEN 0x6b686f74ULL
#define PAGE 4096UL
#define WORDS (PAGE / 8)
/* one hole per MiB: the last page of each */
#define HOLE_EVERY 256
/* in a HugeTLB memfd: every fourth huge page */
#define HUGE_HOLE_EVERY 4
#define MAX_THREADS 8

static int die(const char *what)
{
	printf("luo-fill: FAIL %s: %s\n", what, strerror(errno));
	return 1;
}

static void mark(const char *what)
{
	int fd = open("/dev/console", O_WRONLY);

	if (fd >= 0) {
		dprintf(fd, "luo-fill: %s\n", what);
		close(fd);
	}
}

/* The first number in @path (after @key on its line when given), or -1. */
static long long read_num(const char *path, const char *key)
{
	char line[256];
	long long n = -1;
	size_t k = key ? strlen(key) : 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (key && (strncmp(line, key, k) || line[k] != ' '))
			continue;
		if (sscanf(line + k, "%lld", &n) != 1)
			n = -1;
		break;
	}
	fclose(f);
	return n;
}

/* The reserved pages of the pool of @huge-byte pages, or -1. */
static long pool_reserved(uint64_t huge)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/resv_hugepages",
		 (unsigned long long)(huge >> 10));
	return read_num(path, NULL);
}

static long pool_free(uint64_t huge)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages",
		 (unsigned long long)(huge >> 10));
	return read_num(path, NULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* MFD_NOEXEC_SEAL and F_SEAL_EXEC, which older C libraries lack */
#define MFD_NOEXEC 0x0008U
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* statfs's f_type of hugetlbfs (include/uapi/linux/magic.h) */
#define HUGETLBFS_MAGIC 0x958458f6

/* --huge: the huge page size in bytes; 0 for a shmem memfd */
static uint64_t huge;
/* --dense: a HugeTLB memfd without holes */
static int dense;
/* --cgroup: report the cgroup's charges */
static int cgroup;
/* --rehearse: a refused and an undone preserve before the real one */
static int rehearsal;
/* --noexec: a memfd made with MFD_NOEXEC_SEAL */
static int noexec;
/* --retry FILE[=VALUE]: the limit to lift after a refused retrieve */
static const char *retry_path;
static const char *retry_value = "max\n";
/* --fault N: insertions into the page cache that succeed before one fails */
static long fault_after = -1;

static int write_knob(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (fputs(val, f) < 0) {
		fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}

#define FEI "/sys/kernel/debug/fail_function/"

/*
 * --fault: arm fail_function so that the page cache insertion after the
 * next fault_after ones fails, once, with -ENOMEM. Not per task: on x86 a
 * kprobe without ftrace runs from int3, where the task filter never sees
 * a task. The guest does nothing else meanwhile; the kernel's message
 * names the page that failed, and a test checks it is the one expected.
 */
static int arm_fault(void)
{
	char space[24], retval[24];

	/* "space" lets calls pass while it is more than one */
	snprintf(space, sizeof(space), "%ld\n", fault_after + 1);
	snprintf(retval, sizeof(retval), "%#llx\n", (unsigned long long)-ENOMEM);
	if (write_knob(FEI "inject", "__filemap_add_folio\n") ||
	    write_knob(FEI "__filemap_add_folio/retval", retval) ||
	    write_knob(FEI "task-filter", "N\n") || write_knob(FEI "verbose", "1\n") ||
	    write_knob(FEI "space", space) || write_knob(FEI "times", "1\n") ||
	    write_knob(FEI "probability", "100\n"))
		return die("arm fail_function");
	return 0;
}

/* --fault: the fault must have fired (times down to 0); disarm it */
static int disarm_fault(void)
{
	long left = read_num(FEI "times", NULL);

	if (write_knob(FEI "inject", "!__filemap_add_folio\n"))
		return die("disarm fail_function");
	if (left != 0) {
		printf("luo-fill: FAIL the injected fault did not fire (times left %ld)\n", left);
		return 1;
	}
	return 0;
}

/* luo-fill's own cgroup (v2) into cg, "" if none: its "0::PATH" line */
static void own_cgroup(char *cg, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[128];

	cg[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(cg, len, "%s", line + 3);
			break;
		}
	}
	if (f)
		fclose(f);
}

/* KEY's number in /proc/meminfo (kB), or -1 */
static long long meminfo_kb(const char *key)
{
	size_t n = strlen(key);
	long long v = -1;
	char line[160];
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* memory.current of luo-fill's own cgroup, in bytes (-1: not readable) */
static long long memcg_current(void)
{
	char cg[128], path[256];

	own_cgroup(cg, sizeof(cg));
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", cg);
	return read_num(path, NULL);
}

/*
 * --cgroup: "; cgroup PATH LABEL: hugetlb A rsvd B memcg C" appended to
 * @buf: the usage and reservation counters of PATH's hugetlb controller
 * for the memfd's page size and the hugetlb line of its memory.stat, in
 * bytes (-1: not readable), PATH being luo-fill's own cgroup (v2).
 */
static void cgroup_charges(const char *label, char *buf, size_t len)
{
	char cg[128], path[256], sz[24];
	long long hu, rs, mc;
	size_t used = strlen(buf);

	if (!cgroup || used >= len)
		return;
	own_cgroup(cg, sizeof(cg));
	if (huge >= 1ULL << 30)
		snprintf(sz, sizeof(sz), "%lluGB", (unsigned long long)(huge >> 30));
	else if (huge >= 1ULL << 20)
		snprintf(sz, sizeof(sz), "%lluMB", (unsigned long long)(huge >> 20));
	else
		snprintf(sz, sizeof(sz), "%lluKB", (unsigned long long)(huge >> 10));
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/hugetlb.%s.current", cg, sz);
	hu = read_num(path, NULL);
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/hugetlb.%s.rsvd.current", cg, sz);
	rs = read_num(path, NULL);
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.stat", cg);
	mc = read_num(path, "hugetlb");
	snprintf(buf + used, len - used, "; cgroup %s %s: hugetlb %lld rsvd %lld memcg %lld",
		 cg[0] ? cg : "?", label, hu, rs, mc);
}

static int hole(uint64_t page)
{
	if (huge)
		return !dense &&
		       page / (huge / PAGE) % HUGE_HOLE_EVERY == HUGE_HOLE_EVERY - 1;
	return page % HOLE_EVERY == HOLE_EVERY - 1;
}

/*
 * The file position a generation leaves on its memfd (set after the
 * preserve, which LUO records again at the kexec), and the seals the file
 * has: a memfd of an odd generation is made without MFD_ALLOW_SEALING and
 * has F_SEAL_SEAL, one of an even generation with it and has none. With
 * --noexec, the memfd is made with MFD_NOEXEC_SEAL and has F_SEAL_EXEC as
 * well, and mode 0666, not 0777; by the seed modulo 3, it adds F_SEAL_SEAL
 * (1), F_SEAL_GROW (2: one of the write seals F_SEAL_EXEC brings on a file
 * with exec bits, not all), or all four (0: the seals of an executable
 * file sealed with F_SEAL_EXEC too, which must still come back without
 * exec bits). All must come back with the file; it must map writable
 * unless it has F_SEAL_WRITE or F_SEAL_FUTURE_WRITE, and not if it has.
 */
static off_t file_pos(uint64_t seed)
{
	return (off_t)(seed % 1000) * 4096 + 123;
}

/* the seals a --noexec memfd of @seed gets after it is made */
static int noexec_seals(uint64_t seed)
{
	static const int seals[3] = {
		F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
		F_SEAL_SEAL, F_SEAL_GROW,
	};

	return seals[seed % 3];
}

static int file_seals(uint64_t seed)
{
	if (noexec)
		return F_SEAL_EXEC | noexec_seals(seed);
	return seed % 2 ? F_SEAL_SEAL : 0;
}

static mode_t file_mode(void)
{
	return noexec ? 0666 : 0777;
}

/* Word 0 of page @page in generation @seed's file (a 64-bit mix). */
static uint64_t stamp(uint64_t page, uint64_t seed)
{
	uint64_t x = (page + 1) * 0x9e3779b97f4a7c15ULL ^ (seed + 1) * 0xc2b2ae3d27d4eb4fULL;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ x >> 29 ^ TOKEN;
}

static void fill_page(uint64_t *w, uint64_t s)
{
	unsigned int k;

	for (k = 0; k < WORDS; k++)
		w[k] = s + k;
}

/* Index of the first word of @w that is not s + k (zero: all 0), or -1. */
static int first_bad_word(const uint64_t *w, uint64_t s, int zero)
{
	unsigned int k;

	for (k = 0; k < WORDS; k++)
		if (w[k] != (zero ? 0 : s + k))
			return k;
	return -1;
}

/*
 * The OR of w[k] ^ (s + k) over the page: zero when every word is right.
 * One pass of loads, adds, XORs and ORs that the compiler vectorizes; the
 * same body is built a second time for AVX2, which halves the loads an
 * emulated guest (QEMU TCG) has to translate.
 */
#define PAGE_DIFF_BODY					\
	uint64_t acc = 0;				\
	unsigned int k;					\
							\
	for (k = 0; k < WORDS; k++)			\
		acc |= w[k] ^ (s + k);			\
	return acc

static uint64_t page_diff_plain(const uint64_t *w, uint64_t s)
{
	PAGE_DIFF_BODY;
}

#ifdef __x86_64__
__attribute__((target("avx2")))
static uint64_t page_diff_avx2(const uint64_t *w, uint64_t s)
{
	PAGE_DIFF_BODY;
}
#endif

static uint64_t (*page_diff)(const uint64_t *w, uint64_t s) = page_diff_plain;

static const char *pick_page_diff(void)
{
#ifdef __x86_64__
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2")) {
		page_diff = page_diff_avx2;
		return "avx2";
	}
#endif
	return "plain";
}

/* One thread's share of the check: pages [lo, hi). */
struct part {
	const char *m;
	int fd;
	uint64_t seed, lo, hi;
	uint64_t bad, holes, first;
	int first_k;
	pthread_t thread;
};

static void *check_part(void *arg)
{
	struct part *c = arg;
	uint64_t p;

	uint64_t buf[WORDS];

	for (p = c->lo; p < c->hi; p++) {
		const uint64_t *w = (const uint64_t *)(c->m + p * PAGE);
		int zero = hole(p);
		uint64_t s = zero ? 0 : stamp(p, c->seed);
		int k;

		c->holes += zero;
		/* a hole of a HugeTLB memfd: read, not faulted in */
		if (zero && huge) {
			if (pread(c->fd, buf, PAGE, p * PAGE) != (ssize_t)PAGE)
				memset(buf, 0xff, PAGE);
			w = buf;
		}
		if (zero)
			k = first_bad_word(w, 0, 1);
		else
			k = page_diff(w, s) ? first_bad_word(w, s, 0) : -1;
		if (k >= 0 && !c->bad++) {
			c->first = p;
			c->first_k = k;
		}
	}
	return NULL;
}

/* --pfns FILE: the frame of each huge page filled, one per line (hex) */
static const char *pfns_path;

static int write_pfns(const char *m, uint64_t pages)
{
	uint64_t per = huge / PAGE, p, ent;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	FILE *f = fopen(pfns_path, "w");
	int ok = fd >= 0 && f;

	for (p = 0; ok && p < pages; p += per) {
		if (hole(p))
			continue;
		ok = pread(fd, &ent, 8, ((uintptr_t)m / PAGE + p) * 8) == 8;
		if (ok && (!(ent >> 63) || !(ent & ((1ULL << 55) - 1)))) {
			errno = ENOENT;	/* no page, or its frame not shown */
			ok = 0;
		}
		if (ok)
			fprintf(f, "%#llx\n", (unsigned long long)(ent & ((1ULL << 55) - 1)));
	}
	if (f && fclose(f))
		ok = 0;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : die("write the frames of the huge pages");
}

/*
 * How the frames of the @pages pages mapped at @m lie, read from
 * /proc/self/pagemap (frame numbers need CAP_SYS_ADMIN; the guest runs as
 * root). Holes (pages not present) are passed over. Prints "frames: R
 * runs, S pow2 steps, O other steps, L below 4 GiB" or says why it cannot.
 */
static void layout(const char *m, uint64_t pages, char *out, size_t len)
{
	uint64_t ent[4096], prev = 0, p, n, k, seen = 0, runs = 0, pow2 = 0, other = 0, low = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	snprintf(out, len, "frames: unknown");
	if (fd < 0)
		return;
	for (p = 0; p < pages; p += n) {
		n = pages - p < 4096 ? pages - p : 4096;
		if (pread(fd, ent, n * 8, ((uintptr_t)m / PAGE + p) * 8) != (ssize_t)(n * 8))
			goto out;
		for (k = 0; k < n; k++) {
			uint64_t pfn = ent[k] & ((1ULL << 55) - 1), d;

			if (hole(p + k))
				continue;
			if (!(ent[k] >> 63) || !pfn)
				goto out;
			low += pfn < (4ULL << 30) / PAGE;
			d = pfn - prev;
			if (!seen || d != 1)
				runs++;
			if (seen && d != 1 && pfn > prev && !(d & (d - 1)))
				pow2++;
			else if (seen && d != 1)
				other++;
			prev = pfn;
			seen++;
		}
	}
	snprintf(out, len, "frames: %llu runs, %llu pow2 steps, %llu other steps, %llu below 4 GiB",
		 (unsigned long long)runs, (unsigned long long)pow2,
		 (unsigned long long)other, (unsigned long long)low);
out:
	close(fd);
}

/*
 * A new memfd of @bytes, mapped shared, made with @flags (MFD_ALLOW_SEALING
 * or 0); NULL (after saying why) on error.
 */
static char *map_memfd(const char *name, uint64_t bytes, int *fd, unsigned int flags)
{
	char *m;

	/* MFD_HUGETLB | MFD_HUGE_<size> (log2 of the size << 26) */
	if (huge && !strcmp(name, "khot-bench"))
		flags |= 0x0004U | (unsigned int)__builtin_ctzll(huge) << 26;
	*fd = memfd_create(name, flags);
	if (*fd < 0 || ftruncate(*fd, bytes)) {
		die(name);
		return NULL;
	}
	m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (m == MAP_FAILED) {
		die("mmap");
		return NULL;
	}
	return m;
}

static const char *err_name(int ok, int err)
{
	return ok ? "allowed" : err == EPERM ? "EPERM" : strerror(err);
}

/*
 * A preserved HugeTLB memfd keeps its layout: what changing it gives,
 * written to @out. Expected: "grow EPERM, shrink EPERM, fallocate EPERM,
 * punch EPERM, hole fault SIGBUS" (grow and shrink: ftruncate()). The
 * fault is taken in a child (a shared mapping's read of the first hole,
 * huge page 3), which the signal ends.
 */
static void frozen_probe(int fd, uint64_t bytes, char *out, size_t len)
{
	int t, sh, a, p, st = 0;
	int te, she, ae, pe;
	pid_t pid;

	t = !ftruncate(fd, bytes + huge);
	te = errno;
	if (t && ftruncate(fd, bytes))
		te = errno;
	/* a shrink would drop a page the next kernel brings back */
	sh = !ftruncate(fd, bytes - huge);
	she = errno;
	if (sh && ftruncate(fd, bytes))
		she = errno;
	a = !fallocate(fd, 0, 0, huge);
	ae = errno;
	p = !fallocate(fd, 3 /* PUNCH_HOLE | KEEP_SIZE */, 0, huge);
	pe = errno;
	if (dense || bytes < 4 * huge) {
		snprintf(out, len, "grow %s, shrink %s, fallocate %s, punch %s, no hole to fault",
			 err_name(t, te), err_name(sh, she), err_name(a, ae), err_name(p, pe));
		return;
	}
	pid = fork();
	if (pid == 0) {
		volatile char *m = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);

		if (m == MAP_FAILED)
			_exit(2);
		(void)m[3 * huge];
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		st = -1;
	snprintf(out, len, "grow %s, shrink %s, fallocate %s, punch %s, hole fault %s",
		 err_name(t, te), err_name(sh, she), err_name(a, ae), err_name(p, pe),
		 st == -1 ? "unknown" : WIFSIGNALED(st) ?
		 (WTERMSIG(st) == SIGBUS ? "SIGBUS" : "another signal") :
		 WEXITSTATUS(st) ? "no mapping" : "allowed");
}

/* A new outgoing session named @session@suffix: its fd, or -1. */
static int new_session(int luo, const char *suffix)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };

	snprintf((char *)cs.name, sizeof(cs.name), "%s%s", session, suffix);
	if (ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs))
		return -1;
	return cs.fd;
}

/* Does a grow of the file by one huge page and the shrink back succeed? */
static int resizable(int fd, uint64_t bytes)
{
	return !ftruncate(fd, bytes + huge) && !ftruncate(fd, bytes);
}

/*
 * Before the real preserve (--rehearse, HugeTLB only): a preserve that is
 * refused and one that is undone must each leave the file as it was: its
 * layout free again (checked here) and its pages no longer recorded, so
 * that the real preserve afterwards takes them (a page still recorded
 * fails it with EBUSY). 1. A page fallocate() put past the end
 * of the file: preserve refuses it (EINVAL), after it has recorded the
 * pages before it. 2. Preserved in a session of its own, which is then
 * closed before any kexec: LUO unpreserves the file. Written to @out:
 * "refused EINVAL, resizable; unpreserved, resizable".
 */
static int rehearse(int luo, int sfd, int mfd, uint64_t bytes, char *out, size_t len)
{
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	int refused, err, r1, r2, fd;

	pf.fd = mfd;
	pf.token = TOKEN;
	if (fallocate(mfd, 1 /* KEEP_SIZE */, bytes, huge))
		return die("fallocate past the end");
	refused = ioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf);
	err = errno;
	/* the grow brings the page past the end inside, the shrink drops it */
	r1 = resizable(mfd, bytes);
	fd = new_session(luo, "-rehearse");
	if (fd < 0)
		return die("create session");
	if (ioctl(fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf))
		return die("preserve memfd (rehearsal)");
	close(fd);
	r2 = resizable(mfd, bytes);
	snprintf(out, len, "; rehearsal: %s %s, %s; unpreserved, %s",
		 refused ? "refused" : "preserved", refused ? strerror(err) : "a page past the end",
		 r1 ? "resizable" : "frozen", r2 ? "resizable" : "frozen");
	return 0;
}

static int fill(int luo, uint64_t bytes, uint64_t seed, int gaps)
{
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	uint64_t p, pages = bytes / PAGE, spaced = (pages + 2) / 3 * PAGE, holes = 0;
	char *m, *sp = NULL, frames[128], frozen[160] = "", charges[160], rehearsed[128] = "";
	double t0 = now(), t1;
	int mfd, sfd, sess;

	m = map_memfd("khot-bench", bytes, &mfd,
		      noexec ? MFD_NOEXEC : seed % 2 ? 0 : MFD_ALLOW_SEALING);
	if (!m)
		return 1;
	/* Not preserved: the spacer's pages are the holes between the runs. */
	if (gaps && !(sp = map_memfd("khot-spacer", spaced, &sfd, 0)))
		return 1;
	for (p = 0; p < pages; p++) {
		if (hole(p))
			holes++;
		else
			fill_page((uint64_t *)(m + p * PAGE), stamp(p, seed));
		if (sp && p % 3 == 0)
			*(uint64_t *)(sp + p / 3 * PAGE) = p;
	}
	t1 = now() - t0;
	layout(m, pages, frames, sizeof(frames));
	if (!pfns_path)
		munmap(m, bytes);
	/* unmapped: F_SEAL_WRITE refuses a file mapped writable */
	if (noexec && fcntl(mfd, F_ADD_SEALS, noexec_seals(seed)))
		return die("seal");

	sess = new_session(luo, "");
	if (sess < 0)
		return die("create session");
	pf.fd = mfd;
	pf.token = TOKEN;
	/* a position the kexec must not keep: the one set after the preserve wins */
	if (lseek(mfd, file_pos(seed) + 4096, SEEK_SET) < 0)
		return die("lseek");
	if (rehearsal && huge && rehearse(luo, sess, mfd, bytes, rehearsed, sizeof(rehearsed)))
		return 1;
	if (ioctl(sess, LIVEUPDATE_SESSION_PRESERVE_FD, &pf))
		return die("preserve memfd");
	if (lseek(mfd, file_pos(seed), SEEK_SET) != file_pos(seed))
		return die("lseek");
	/* after preserve, which may move pages out of KHO scratch */
	if (pfns_path) {
		if (write_pfns(m, pages))
			return 1;
		munmap(m, bytes);
	}
	close(luo);
	if (huge)
		frozen_probe(mfd, bytes, frozen, sizeof(frozen));
	charges[0] = 0;
	cgroup_charges("filled", charges, sizeof(charges));
	printf("luo-fill: preserved %llu MiB in %llu pages (%llu holes, seed %llu); %s; filled in %.2f s%s%s%s%s\n",
	       (unsigned long long)(bytes >> 20), (unsigned long long)pages,
	       (unsigned long long)holes, (unsigned long long)seed, frames, t1,
	       huge ? "; hugetlb; frozen: " : "", frozen, charges, rehearsed);
	fflush(stdout);

	/* The session lives as long as its file: keep it in a child. */
	switch (fork()) {
	case -1:
		return die("fork");
	case 0:
		setsid();
		close(0);
		close(1);
		close(2);
		for (;;)
			pause();
	}
	return 0;
}

/*
 * Check pages [0, @pages) at @m against generation @seed's data with
 * @threads threads. Returns how many pages differ; @first and @first_k
 * are the first wrong word's page and index, @holes the holes seen.
 */
static uint64_t verify(const char *m, int fd, uint64_t pages, uint64_t seed, int threads,
		       uint64_t *holes, uint64_t *first, int *first_k)
{
	struct part parts[MAX_THREADS];
	uint64_t bad = 0;
	int i;

	*holes = 0;
	for (i = 0; i < threads; i++) {
		parts[i] = (struct part){ .m = m, .fd = fd, .seed = seed, .first_k = -1,
					  .lo = pages * i / threads,
					  .hi = pages * (i + 1) / threads };
		if (i && (errno = pthread_create(&parts[i].thread, NULL, check_part, &parts[i])))
			exit(die("pthread_create"));
	}
	check_part(&parts[0]);
	for (i = 0; i < threads; i++) {
		if (i && (errno = pthread_join(parts[i].thread, NULL)))
			exit(die("pthread_join"));
		*holes += parts[i].holes;
		/* the parts are in page order: the first bad one has the first page */
		if (parts[i].bad && !bad) {
			*first = parts[i].first;
			*first_k = parts[i].first_k;
		}
		bad += parts[i].bad;
	}
	return bad;
}

static int check(int luo, uint64_t bytes, uint64_t seed)
{
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
	struct liveupdate_session_retrieve_fd rf = { .size = sizeof(rf) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };
	uint64_t pages = bytes / PAGE, bad = 0, holes = 0, first = 0;
	int threads, first_k = -1, seals, writable;
	off_t pos;
	const char *how;
	char remap[64] = "", charges[400] = "", refused[512] = "";
	struct statfs sf;
	struct stat st;
	double t0, t1;
	char *m;

	mark("check start");
	snprintf((char *)rs.name, sizeof(rs.name), "%s", session);
	if (ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs))
		return die("retrieve session");
	rf.token = TOKEN;
	if (fault_after >= 0 && arm_fault())
		return 1;
	if (retry_path || fault_after >= 0) {
		/* --retry, --fault: refused first, and nothing of it may stay charged */
		long long mc0 = memcg_current(), ca0 = meminfo_kb("Committed_AS");
		long long sh0 = meminfo_kb("Shmem"), th0 = meminfo_kb("ShmemHugePages");
		int err;

		if (!ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf)) {
			if (fault_after >= 0)
				disarm_fault();
			return die("retrieve memfd: not refused");
		}
		err = errno;
		if (fault_after >= 0 && disarm_fault())
			return 1;
		if (huge)
			snprintf(refused, sizeof(refused), "; retrieve refused (%s), %ld free pages then",
				 strerror(err), pool_free(huge));
		else
			snprintf(refused, sizeof(refused),
				 "; retrieve refused (%s), memory.current %lld then; Committed_AS %lld kB then; Shmem %lld kB then; ShmemHugePages %lld kB then; before it: memory.current %lld, Committed_AS %lld kB, Shmem %lld kB, ShmemHugePages %lld kB",
				 strerror(err), memcg_current(), meminfo_kb("Committed_AS"),
				 meminfo_kb("Shmem"), meminfo_kb("ShmemHugePages"), mc0, ca0, sh0, th0);
		cgroup_charges("refused", charges, sizeof(charges));
		if (retry_path && write_knob(retry_path, retry_value))
			return die("lift the limit");
	}
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf)) {
		int err = errno, again = 0;

		if (retry_path || fault_after >= 0)
			return die("retrieve memfd again");
		/*
		 * Once more, as is: a final error must come back as it was, a
		 * refusal the kernel keeps open (a cgroup limit) again too.
		 */
		if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf))
			again = errno;
		/* --cgroup: what the refusal left charged, before the session closes */
		cgroup_charges("refused", charges, sizeof(charges));
		printf("luo-fill: FAIL retrieve memfd: %s; again: %s%s\n", strerror(err),
		       again ? strerror(again) : "retrieved", charges);
		return 1;
	}
	mark("retrieved");
	cgroup_charges("retrieved", charges, sizeof(charges));
	if (retry_path && !huge) {
		size_t used = strlen(refused);

		snprintf(refused + used, sizeof(refused) - used,
			 "; memory.current %lld retrieved; Committed_AS %lld kB retrieved; ShmemHugePages %lld kB retrieved",
			 memcg_current(), meminfo_kb("Committed_AS"), meminfo_kb("ShmemHugePages"));
	}
	if (fstat(rf.fd, &st))
		return die("fstat");
	/* what came back is what was preserved: HugeTLB pages of its size, or shmem */
	if (fstatfs(rf.fd, &sf))
		return die("fstatfs");
	if (huge ? sf.f_type != HUGETLBFS_MAGIC || (uint64_t)sf.f_bsize != huge
		 : sf.f_type == HUGETLBFS_MAGIC) {
		printf("luo-fill: FAIL the memfd came back on a file system of type %#lx, pages of %llu bytes; preserved %s\n",
		       (unsigned long)sf.f_type, (unsigned long long)sf.f_bsize,
		       huge ? "HugeTLB" : "shmem");
		return 1;
	}
	if ((uint64_t)st.st_size != bytes) {
		printf("luo-fill: FAIL memfd size %llu, preserved %llu\n",
		       (unsigned long long)st.st_size, (unsigned long long)bytes);
		return 1;
	}
	seals = fcntl(rf.fd, F_GET_SEALS);
	pos = lseek(rf.fd, 0, SEEK_CUR);
	if (seals != file_seals(seed) || pos != file_pos(seed) ||
	    (st.st_mode & 07777) != file_mode()) {
		printf("luo-fill: FAIL memfd seals %#x, position %lld, mode %#o; preserved seals %#x, position %lld, mode %#o\n",
		       seals, (long long)pos, (unsigned int)(st.st_mode & 07777),
		       file_seals(seed), (long long)file_pos(seed), (unsigned int)file_mode());
		return 1;
	}
	/* a writable shared mapping: refused by a write seal, by nothing else */
	m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | (huge ? MAP_NORESERVE : 0),
		 rf.fd, 0);
	writable = m != MAP_FAILED;
	if (writable)
		munmap(m, bytes);
	if (writable != !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) {
		printf("luo-fill: FAIL the memfd with seals %#x %s writable\n", seals,
		       writable ? "maps" : "does not map");
		return 1;
	}
	/*
	 * MAP_POPULATE: one walk maps it all, no fault per page; not in a
	 * HugeTLB memfd, where it would fill the holes from the pool. There,
	 * MAP_NORESERVE: the check faults in only pages the file has, and a
	 * pool with no free page (one asked smaller than what was preserved)
	 * could not reserve its holes.
	 */
	m = mmap(NULL, bytes, PROT_READ, MAP_SHARED | (huge ? MAP_NORESERVE : MAP_POPULATE),
		 rf.fd, 0);
	if (m == MAP_FAILED)
		return die("mmap");
	how = pick_page_diff();
	threads = sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	t0 = now();
	bad = verify(m, rf.fd, pages, seed, threads, &holes, &first, &first_k);
	t1 = now();
	if (bad) {
		uint64_t got = 0;

		if (hole(first) && huge) {
			if (pread(rf.fd, &got, 8, first * PAGE + first_k * 8) != 8)
				got = ~0ULL;
		} else
			got = ((const uint64_t *)(m + first * PAGE))[first_k];
		uint64_t want = hole(first) ? 0 : stamp(first, seed) + first_k;

		printf("luo-fill: FAIL %llu of %llu pages differ; first at offset %#llx: %#llx, want %#llx%s\n",
		       (unsigned long long)bad, (unsigned long long)pages,
		       (unsigned long long)(first * PAGE + first_k * 8),
		       (unsigned long long)got, (unsigned long long)want,
		       hole(first) ? " (a hole)" : "");
		return 1;
	}
	munmap(m, bytes);
	/*
	 * Mapped again as a guest's memory is, reserving: only the holes
	 * may be reserved, the pages the file has are its own already.
	 */
	if (huge) {
		long before = pool_reserved(huge), after;
		char *r = mmap(NULL, bytes, PROT_READ, MAP_SHARED, rf.fd, 0);

		if (r == MAP_FAILED) {
			snprintf(remap, sizeof(remap), "; mapped again: %s", strerror(errno));
		} else {
			after = pool_reserved(huge);
			snprintf(remap, sizeof(remap), "; mapped again: %ld reserved", after - before);
			munmap(r, bytes);
		}
		cgroup_charges("mapped again", charges, sizeof(charges));
	}
	close(rf.fd);
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin))
		return die("finish session");
	mark("verified");
	printf("luo-fill: verified %llu MiB in %llu pages, every byte (%llu holes read zero, seed %llu) in %.2f s (%d threads, %s)",
	       (unsigned long long)(bytes >> 20), (unsigned long long)pages,
	       (unsigned long long)holes, (unsigned long long)seed, t1 - t0,
	       threads, how);
	if (huge)
		printf("; hugetlb, %llu KiB pages%s%s%s", (unsigned long long)(huge >> 10), remap,
		       refused, charges);
	else
		printf("%s", refused);
	printf("; seals %#x, mode %#o, %s\n", seals, (unsigned int)(st.st_mode & 07777),
	       writable ? "maps writable" : "write-sealed");
	return 0;
}

/* Finish the session without taking its memfd: the kernel releases it. */
static int discard(int luo)
{
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };

	snprintf((char *)rs.name, sizeof(rs.name), "%s", session);
	if (ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs))
		return die("retrieve session");
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin))
		return die("finish session");
	close(rs.fd);
	printf("luo-fill: discarded session %s, its memfd not retrieved\n", session);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: luo-fill [--check | --gaps] [--seed S] [--session NAME] [--huge 64K|2M|32M|1G [--dense] [--pfns FILE] [--cgroup [--retry FILE[=VALUE]]] [--fault N] [--rehearse]] [--noexec] <MiB>\n");
	return 2;
}

int main(int argc, char **argv)
{
	int checking = 0, gaps = 0, discarding = 0, i = 1, luo;
	uint64_t mib, seed = 1;

	if (argc == 2 && !strcmp(argv[1], "--discard"))
		discarding = 1;
	for (; !discarding && i < argc - 1; i++) {
		if (!strcmp(argv[i], "--check"))
			checking = 1;
		else if (!strcmp(argv[i], "--gaps"))
			gaps = 1;
		else if (!strcmp(argv[i], "--dense"))
			dense = 1;
		else if (!strcmp(argv[i], "--cgroup"))
			cgroup = 1;
		else if (!strcmp(argv[i], "--rehearse"))
			rehearsal = 1;
		else if (!strcmp(argv[i], "--noexec"))
			noexec = 1;
		else if (!strcmp(argv[i], "--seed") && i + 2 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--session") && i + 2 < argc)
			session = argv[++i];
		else if (!strcmp(argv[i], "--pfns") && i + 2 < argc)
			pfns_path = argv[++i];
		else if (!strcmp(argv[i], "--retry") && i + 2 < argc) {
			char *eq;

			retry_path = argv[++i];
			eq = strchr(argv[i], '=');
			if (eq) {
				*eq = '\0';
				retry_value = eq + 1;
			}
		}
		else if (!strcmp(argv[i], "--fault") && i + 2 < argc)
			fault_after = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--huge") && i + 2 < argc) {
			i++;
			if (!strcmp(argv[i], "64K"))
				huge = 64ULL << 10;
			else if (!strcmp(argv[i], "2M"))
				huge = 2ULL << 20;
			else if (!strcmp(argv[i], "32M"))
				huge = 32ULL << 20;
			else if (!strcmp(argv[i], "1G"))
				huge = 1ULL << 30;
			else
				return usage();
		}
		else
			return usage();
	}
	if (discarding) {
		luo = open("/dev/liveupdate", O_RDWR);
		return luo < 0 ? die("open /dev/liveupdate") : discard(luo);
	}
	if (i != argc - 1 || (checking && gaps) || (huge && gaps) || (dense && !huge) ||
	    (pfns_path && (checking || !huge)) || (cgroup && !huge) ||
	    (noexec && (pfns_path || rehearsal)) || (retry_path && (!checking || (huge && !cgroup))) ||
	    (fault_after >= 0 && (!checking || !huge || retry_path)))
		return usage();
	mib = strtoull(argv[i], NULL, 0);
	if (!mib || mib > (1ULL << 20) || (huge && (mib << 20) % huge)) {
		fprintf(stderr, "luo-fill: bad size\n");
		return 2;
	}
	luo = open("/dev/liveupdate", O_RDWR);
	if (luo < 0)
		return die("open /dev/liveupdate");
	return checking ? check(luo, mib << 20, seed) : fill(luo, mib << 20, seed, gaps);
}
