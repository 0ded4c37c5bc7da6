// SPDX-License-Identifier: GPL-2.0
/*
 * luo-fill: hand N MiB of memfd data over to the next kernel through the
 * Live Update Orchestrator (/dev/liveupdate, memfd preservation). Both our
 * kernel and stock 7.3 have it with the same UAPI, so the boot benchmarks
 * use it to preserve the same memory the same way on either kernel.
 *
 *   luo-fill <MiB>          fill a memfd (one stamp per page), preserve it
 *                           in session "khot-bench" and keep the session
 *                           open in a background child until the kexec
 *   luo-fill --gaps <MiB>   the same, but after every third page of the
 *                           memfd one page of a second, unpreserved memfd is
 *                           touched, so that the preserved frames come in
 *                           short runs with one-frame holes between them
 *   luo-fill --check <MiB>  after the kexec: retrieve the memfd and verify
 *                           every page's stamp
 *
 * Prints one line ("luo-fill: ...") and exits 0 on success. Filling also
 * reads the memfd's frames from /proc/self/pagemap and prints how they lie:
 * runs of consecutive frames, steps of a power of two frames (2, 4, ...)
 * between neighbours, and other steps. --check also
 * writes "luo-fill: check start", "luo-fill: retrieved" and "luo-fill:
 * verified" to /dev/console as it goes, so that the console shows when the
 * memfd came back and when its data was verified (the blackout benchmark
 * times those lines with the host's clock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/liveupdate.h>

#define SESSION "khot-bench"
#define TOKEN 0x6b686f74ULL
#define PAGE 4096UL

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

static uint64_t stamp(uint64_t page)
{
	return page * 0x9e3779b97f4a7c15ULL ^ TOKEN;
}

/*
 * How the frames of the @pages pages mapped at @m lie, read from
 * /proc/self/pagemap (frame numbers need CAP_SYS_ADMIN; the guest runs as
 * root). Prints "frames: R runs, S pow2 steps, O other steps, L below
 * 4 GiB" or says why it cannot.
 */
static void layout(const char *m, uint64_t pages, char *out, size_t len)
{
	uint64_t ent[4096], prev = 0, p, n, k, runs = 0, pow2 = 0, other = 0, low = 0;
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

			if (!(ent[k] >> 63) || !pfn)
				goto out;
			low += pfn < (4ULL << 30) / PAGE;
			d = pfn - prev;
			if (p + k == 0 || d != 1)
				runs++;
			if (p + k && d != 1 && pfn > prev && !(d & (d - 1)))
				pow2++;
			else if (p + k && d != 1)
				other++;
			prev = pfn;
		}
	}
	snprintf(out, len, "frames: %llu runs, %llu pow2 steps, %llu other steps, %llu below 4 GiB",
		 (unsigned long long)runs, (unsigned long long)pow2,
		 (unsigned long long)other, (unsigned long long)low);
out:
	close(fd);
}

/* A new memfd of @bytes, mapped shared; NULL (after saying why) on error. */
static char *map_memfd(const char *name, uint64_t bytes, int *fd)
{
	char *m;

	*fd = memfd_create(name, 0);
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

static int fill(int luo, uint64_t bytes, int gaps)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	uint64_t p, pages = bytes / PAGE, spaced = (pages + 2) / 3 * PAGE;
	char *m, *sp = NULL, frames[128];
	int mfd, sfd;

	m = map_memfd("khot-bench", bytes, &mfd);
	if (!m)
		return 1;
	/* Not preserved: the spacer's pages are the holes between the runs. */
	if (gaps && !(sp = map_memfd("khot-spacer", spaced, &sfd)))
		return 1;
	for (p = 0; p < pages; p++) {
		*(uint64_t *)(m + p * PAGE) = stamp(p);
		if (sp && p % 3 == 0)
			*(uint64_t *)(sp + p / 3 * PAGE) = p;
	}
	layout(m, pages, frames, sizeof(frames));
	munmap(m, bytes);

	strcpy((char *)cs.name, SESSION);
	if (ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs))
		return die("create session");
	pf.fd = mfd;
	pf.token = TOKEN;
	if (ioctl(cs.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf))
		return die("preserve memfd");
	close(luo);
	printf("luo-fill: preserved %llu MiB in %llu pages; %s\n",
	       (unsigned long long)(bytes >> 20), (unsigned long long)pages,
	       frames);
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

static int check(int luo, uint64_t bytes)
{
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
	struct liveupdate_session_retrieve_fd rf = { .size = sizeof(rf) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };
	uint64_t p, pages = bytes / PAGE, bad = 0;
	char *m;

	mark("check start");
	strcpy((char *)rs.name, SESSION);
	if (ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs))
		return die("retrieve session");
	rf.token = TOKEN;
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf))
		return die("retrieve memfd");
	mark("retrieved");
	if (lseek(rf.fd, 0, SEEK_END) != (off_t)bytes) {
		errno = EINVAL;
		return die("memfd size");
	}
	m = mmap(NULL, bytes, PROT_READ, MAP_SHARED, rf.fd, 0);
	if (m == MAP_FAILED)
		return die("mmap");
	for (p = 0; p < pages; p++)
		bad += *(uint64_t *)(m + p * PAGE) != stamp(p);
	munmap(m, bytes);
	close(rf.fd);
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin))
		return die("finish session");
	if (bad) {
		printf("luo-fill: FAIL %llu of %llu pages changed\n",
		       (unsigned long long)bad, (unsigned long long)pages);
		return 1;
	}
	mark("verified");
	printf("luo-fill: verified %llu MiB in %llu pages\n",
	       (unsigned long long)(bytes >> 20), (unsigned long long)pages);
	return 0;
}

int main(int argc, char **argv)
{
	int checking = argc == 3 && !strcmp(argv[1], "--check");
	int gaps = argc == 3 && !strcmp(argv[1], "--gaps");
	uint64_t mib;
	int luo;

	if (argc != 2 && !checking && !gaps) {
		fprintf(stderr, "usage: luo-fill [--check | --gaps] <MiB>\n");
		return 2;
	}
	mib = strtoull(argv[argc - 1], NULL, 0);
	if (!mib || mib > (1ULL << 20)) {
		fprintf(stderr, "luo-fill: bad size\n");
		return 2;
	}
	luo = open("/dev/liveupdate", O_RDWR);
	if (luo < 0)
		return die("open /dev/liveupdate");
	return checking ? check(luo, mib << 20) : fill(luo, mib << 20, gaps);
}
