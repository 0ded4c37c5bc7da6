// SPDX-License-Identifier: GPL-2.0
/*
 * kexec-file: the two kexec-tools calls guest/init makes, as a static
 * program for guests without Debian's kexec-tools (the arm64 guest):
 *
 *   kexec -s -l IMAGE [--initrd=FILE] [--command-line=TEXT]
 *                     load IMAGE with kexec_file_load()
 *   kexec -e          reboot into the loaded kernel
 */
#include <fcntl.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

static int load(const char *image, const char *initrd, const char *cmdline)
{
	unsigned long flags = 0;
	int kfd, ifd = -1;

	kfd = open(image, O_RDONLY);
	if (kfd < 0) {
		perror(image);
		return 1;
	}
	if (initrd) {
		ifd = open(initrd, O_RDONLY);
		if (ifd < 0) {
			perror(initrd);
			return 1;
		}
	} else {
		flags |= KEXEC_FILE_NO_INITRAMFS;
	}
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline, flags)) {
		perror("kexec_file_load");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *image = NULL, *initrd = NULL, *cmdline = "";
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s"))
			continue;
		if (!strcmp(argv[i], "-e")) {
			sync();
			reboot(LINUX_REBOOT_CMD_KEXEC);
			perror("reboot(LINUX_REBOOT_CMD_KEXEC)");
			return 1;
		}
		if (!strcmp(argv[i], "-l") && i + 1 < argc)
			image = argv[++i];
		else if (!strncmp(argv[i], "--initrd=", 9))
			initrd = argv[i] + 9;
		else if (!strncmp(argv[i], "--command-line=", 15))
			cmdline = argv[i] + 15;
		else
			break;
	}
	if (i < argc || !image) {
		fprintf(stderr, "usage: kexec -s -l IMAGE [--initrd=FILE] [--command-line=TEXT] | kexec -e\n");
		return 2;
	}
	return load(image, initrd, cmdline);
}
