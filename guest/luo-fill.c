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
 *   luo-fill --check <MiB>  after the kexec: retrieve the memfd and verify
 *                           every page's stamp
 *
 * Prints one line ("luo-fill: ...") and exits 0 on success. --check also
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

static int fill(int luo, uint64_t bytes)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	uint64_t p, pages = bytes / PAGE;
	char *m;
	int mfd;

	mfd = memfd_create("khot-bench", 0);
	if (mfd < 0 || ftruncate(mfd, bytes))
		return die("memfd");
	m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (m == MAP_FAILED)
		return die("mmap");
	for (p = 0; p < pages; p++)
		*(uint64_t *)(m + p * PAGE) = stamp(p);
	munmap(m, bytes);

	strcpy((char *)cs.name, SESSION);
	if (ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs))
		return die("create session");
	pf.fd = mfd;
	pf.token = TOKEN;
	if (ioctl(cs.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf))
		return die("preserve memfd");
	close(luo);
	printf("luo-fill: preserved %llu MiB in %llu pages\n",
	       (unsigned long long)(bytes >> 20), (unsigned long long)pages);
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
	uint64_t mib;
	int luo;

	if (argc != 2 && !checking) {
		fprintf(stderr, "usage: luo-fill [--check] <MiB>\n");
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
	return checking ? check(luo, mib << 20) : fill(luo, mib << 20);
}
