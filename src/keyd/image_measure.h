/* What a TDVF direct boot (QEMU -kernel/-initrd/-append, OVMF/TDVF) measures of an image, computed
 * from the files before the image ever boots:
 *   RTMR1: the kernel's PE Authenticode SHA-384 (EV_EFI_BOOT_SERVICES_APPLICATION), then the
 *          firmware's fixed events: "Calling EFI Application from Boot Option", the separator,
 *          "Exit Boot Services Invocation", "Exit Boot Services Returned with Success";
 *   RTMR2: the command line as UTF-16LE with its NUL, then the initrd (the Linux EFI stub's
 *          tagged events), each SHA-384.
 * QEMU before 10.1 patches the kernel's setup header before the firmware measures it: modelled by
 * image_qemu_patch_setup_header(). The OVMF version's event layout is not computed here:
 * docs/policy.md says how to pin it from one reference boot. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_DIGEST_LEN 48

/* Authenticode SHA-384 of a PE/COFF image (PE32 or PE32+), as UEFI measures a boot
 * application: headers without the checksum and the certificate-table entry, the sections in
 * file order, the data after them except the certificate table, zero padding to 8 bytes.
 * Returns 0, or -EBADMSG with the reason ("section 2 extends past the end of the file"). */
int image_pe_authenticode_sha384(const uint8_t *img, size_t len, uint8_t out[IMAGE_DIGEST_LEN],
				 char *reason, size_t reason_len);

/* The setup-header fields QEMU 8.0-10.0's direct boot (x86_load_linux(), q35 machine) writes into
 * the kernel it hands the firmware, which then measures the patched image (QEMU 10.1 and later
 * leave a confidential guest's kernel untouched): cmd_line_ptr, vid_mode for "vga=",
 * type_of_loader, loadflags CAN_USE_HEAP, heap_end_ptr, ramdisk_image and ramdisk_size, the
 * ramdisk at the top of low memory (ram_size bytes of RAM, 0x28000 bytes of ACPI tables above
 * it). Patches img in place. Returns 0, or -EBADMSG/-EINVAL with the reason (no bzImage setup
 * header, a protocol QEMU loads differently, an initrd too large, a bad "vga="). */
int image_qemu_patch_setup_header(uint8_t *img, size_t len, uint64_t ram_size, uint64_t initrd_size,
				  const char *cmdline, char *reason, size_t reason_len);

/* SHA-384 of cmdline (UTF-8) as UTF-16LE with a terminating NUL; -EINVAL if not UTF-8. */
int image_cmdline_sha384(const char *cmdline, uint8_t out[IMAGE_DIGEST_LEN]);

/* The measurement-set stanza {"rtmr1": {"events": [...]}, "rtmr2": {"events": [...]}} for these
 * digests, in the event order of a TDVF direct boot. */
int image_direct_boot_stanza(const uint8_t kernel[IMAGE_DIGEST_LEN],
			     const uint8_t cmdline[IMAGE_DIGEST_LEN],
			     const uint8_t initrd[IMAGE_DIGEST_LEN], struct json_object **out);
