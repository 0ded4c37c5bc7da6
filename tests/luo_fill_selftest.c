// SPDX-License-Identifier: GPL-2.0
/*
 * Host test of guest/luo-fill.c's data check (verify()): the check must see
 * every changed byte wherever it lies, in either of its compare paths and
 * with any number of threads. Built and run by tests/harness_selftest.py.
 *
 * A buffer of PAGES pages (not a multiple of any thread count, so that the
 * parts are uneven) is filled the way luo-fill fills a memfd. Then, for the
 * plain and the AVX2 compare (where the host has it) and 1, 2, 3 and 8
 * threads: the clean buffer must pass with the right number of holes; one
 * flipped bit at each probe offset must give exactly one bad page, at that
 * page and word, and so must each of the 64 bits of one word; of two
 * bad pages far apart, the first is the one reported; and the check
 * against another seed (a stale copy) must find every written page bad. Prints one line per failed case and a summary;
 * exits 1 on any failure.
 */
#define main luo_fill_main
#include "../guest/luo-fill.c"
#undef main

#define PAGES 1027UL

static int failed, cases;

static void expect(int ok, const char *how, int threads, const char *what)
{
	cases++;
	if (!ok) {
		failed++;
		printf("luo-fill selftest: FAIL %s, %d threads: %s\n", how, threads, what);
	}
}

/*
 * --huge 2M: every fourth 2 MiB page is a hole, and holes are read from the
 * file with pread(), never through the mapping (a fault there would take
 * a page from the pool). @m is a private copy of the file: a changed byte
 * in a hole of the file must be seen, one in the copy's hole must not.
 */
#define HPAGES 4096UL	/* 16 MiB: huge pages 3 and 7 are holes */

static void huge_cases(void)
{
	uint64_t p, h, first, bad, holes = 0;
	char *m = aligned_alloc(PAGE, HPAGES * PAGE);
	int fd = memfd_create("huge-selftest", 0), k, t;
	char one = 0x10;

	huge = 2ULL << 20;
	if (!m || fd < 0 || ftruncate(fd, HPAGES * PAGE)) {
		expect(0, "huge", 0, "set up");
		return;
	}
	memset(m, 0, HPAGES * PAGE);
	for (p = 0; p < HPAGES; p++) {
		if (hole(p))
			holes++;
		else
			fill_page((uint64_t *)(m + p * PAGE), stamp(p, 7));
	}
	if (pwrite(fd, m, HPAGES * PAGE, 0) != (ssize_t)(HPAGES * PAGE)) {
		expect(0, "huge", 0, "write the file");
		return;
	}
	expect(holes == 1024 && hole(1536) && hole(4095) && !hole(1535) && !hole(2048),
	       "huge", 0, "huge pages 3 and 7 are the holes");
	for (t = 1; t <= 3; t++) {
		bad = verify(m, fd, HPAGES, 7, t, &h, &first, &k);
		expect(!bad && h == holes, "huge", t, "the clean file");
		/* in the file's hole: seen */
		if (pwrite(fd, &one, 1, 1541 * PAGE + 24) != 1)
			expect(0, "huge", t, "pwrite");
		bad = verify(m, fd, HPAGES, 7, t, &h, &first, &k);
		expect(bad == 1 && first == 1541 && k == 3, "huge", t,
		       "a byte of hole page 1541 changed in the file");
		one = 0;
		if (pwrite(fd, &one, 1, 1541 * PAGE + 24) != 1)
			expect(0, "huge", t, "pwrite");
		one = 0x10;
		/* in the mapping's hole only: not read there */
		m[3600 * PAGE] ^= 1;
		bad = verify(m, fd, HPAGES, 7, t, &h, &first, &k);
		m[3600 * PAGE] ^= 1;
		expect(!bad, "huge", t, "a hole is read from the file, not the mapping");
		/* a data page is read through the mapping */
		m[2048 * PAGE + 8] ^= 1;
		bad = verify(m, fd, HPAGES, 7, t, &h, &first, &k);
		m[2048 * PAGE + 8] ^= 1;
		expect(bad == 1 && first == 2048 && k == 1, "huge", t,
		       "a byte of data page 2048 changed");
	}
	huge = 0;
	close(fd);
	free(m);
}

int main(void)
{
	/* byte offsets: first byte, a word's last byte, the middle of a page,
	 * both sides of every thread boundary the thread counts make, a hole,
	 * the file's last byte
	 */
	uint64_t probes[64], n = 0, p, holes = 0, first, h;
	uint64_t (*impl[2])(const uint64_t *, uint64_t) = { page_diff_plain, NULL };
	const char *names[2] = { "plain", "avx2" };
	int threads[] = { 1, 2, 3, 8 }, t, i, j, k;
	char *m = aligned_alloc(PAGE, PAGES * PAGE);

	if (!m)
		return 2;
	/* luo-fill's own dispatch: the AVX2 path wherever luo-fill takes it */
	if (!strcmp(pick_page_diff(), "avx2"))
		impl[1] = page_diff;
	memset(m, 0, PAGES * PAGE);
	for (p = 0; p < PAGES; p++) {
		if (hole(p))
			holes++;
		else
			fill_page((uint64_t *)(m + p * PAGE), stamp(p, 7));
	}
	probes[n++] = 0;
	probes[n++] = 7;
	probes[n++] = 5 * PAGE + 2048;
	probes[n++] = 255 * PAGE + 100;		/* a hole */
	probes[n++] = PAGES * PAGE - 1;
	for (t = 0; t < 4; t++)
		for (i = 1; i < threads[t]; i++) {
			p = PAGES * i / threads[t];
			probes[n++] = p * PAGE;
			probes[n++] = p * PAGE - 1;
		}

	for (j = 0; j < 2; j++) {
		if (!impl[j]) {
			printf("luo-fill selftest: no AVX2 on this host, the avx2 path is not tested\n");
			continue;
		}
		page_diff = impl[j];
		for (t = 0; t < 4; t++) {
			uint64_t bad = verify(m, -1, PAGES, 7, threads[t], &h, &first, &k);

			expect(!bad && h == holes && holes == 4, names[j], threads[t],
			       "the clean buffer (4 holes: pages 255, 511, 767, 1023)");
			bad = verify(m, -1, PAGES, 6, threads[t], &h, &first, &k);
			expect(bad == PAGES - holes, names[j], threads[t], "a stale copy (seed 6)");
			/* every bit of one word, so that no bit is left out of the compare */
			for (i = 0; i < 64; i++) {
				uint64_t *w = (uint64_t *)(m + 9 * PAGE) + 3;
				char what[64];

				*w ^= 1ULL << i;
				bad = verify(m, -1, PAGES, 7, threads[t], &h, &first, &k);
				*w ^= 1ULL << i;
				snprintf(what, sizeof(what), "bit %d of word 3 of page 9 flipped", i);
				expect(bad == 1 && first == 9 && k == 3, names[j], threads[t], what);
			}
			/* two bad pages: the first is reported, whichever thread saw it */
			m[PAGE + 8] ^= 1;
			m[(PAGES - 2) * PAGE + 16] ^= 1;
			bad = verify(m, -1, PAGES, 7, threads[t], &h, &first, &k);
			m[PAGE + 8] ^= 1;
			m[(PAGES - 2) * PAGE + 16] ^= 1;
			expect(bad == 2 && first == 1 && k == 1, names[j], threads[t],
			       "pages 1 and PAGES - 2 changed");
			for (i = 0; i < (int)n; i++) {
				char what[64];

				m[probes[i]] ^= 0x10;
				bad = verify(m, -1, PAGES, 7, threads[t], &h, &first, &k);
				m[probes[i]] ^= 0x10;
				snprintf(what, sizeof(what), "a bit flipped at byte %#llx",
					 (unsigned long long)probes[i]);
				expect(bad == 1 && first == probes[i] / PAGE &&
				       k == (int)(probes[i] % PAGE / 8), names[j], threads[t], what);
			}
		}
	}
	huge_cases();
	printf("luo-fill selftest: %d cases, %d failed\n", cases, failed);
	return failed ? 1 : 0;
}
