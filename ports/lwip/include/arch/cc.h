/* lwIP architecture header for ukit (x86_64, one address space, musl headers).
 *
 * lwIP runs inside the kernel: diagnostics go nowhere (the kernel has no printf) and a
 * failed assertion stops the image through the kernel's panic path, exported from Rust
 * by lib/net. */
#ifndef UK_LWIP_ARCH_CC_H
#define UK_LWIP_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>

/* ctype.h would pull locale machinery; lwIP has its own replacements. */
#define LWIP_NO_CTYPE_H 1

void uk_net_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
uint32_t uk_net_rand(void);

#define LWIP_PLATFORM_DIAG(x) do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) uk_net_assert((x), __FILE__, __LINE__)
#define LWIP_RAND() ((u32_t)uk_net_rand())

#endif
