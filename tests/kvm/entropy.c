/* Where a kvm guest's random numbers come from (docs/runtime.md, "Entropy"): prints
 * whether the CPU offers RDRAND and RDSEED (CPUID, as the kernel reads them), then 16
 * bytes of getrandom(2) in hex. tests/tests/kvm.rs boots it on CPU models with and
 * without RDRAND and compares boots. */
#include <cpuid.h>
#include <stdio.h>
#include <sys/random.h>

int main(void)
{
    unsigned a, b, c, d, rdrand = 0, rdseed = 0;
    unsigned char buf[16];

    if (__get_cpuid(1, &a, &b, &c, &d))
        rdrand = (c >> 30) & 1;
    if (__get_cpuid_max(0, 0) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        rdseed = (b >> 18) & 1;
    }
    printf("rdrand=%u rdseed=%u\n", rdrand, rdseed);
    if (getrandom(buf, sizeof buf, 0) != sizeof buf) {
        perror("getrandom");
        return 1;
    }
    printf("random=");
    for (unsigned i = 0; i < sizeof buf; i++)
        printf("%02x", buf[i]);
    printf("\n");
    return 0;
}
