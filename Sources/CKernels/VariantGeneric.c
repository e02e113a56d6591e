// The baseline variant (any x86-64 or other CPU).
#include "CKernels.h"

#define CK_NAME(base) CKernels_##base##_generic

static inline uint32_t ck_mask16(const float *p) {
    uint32_t m = 0;
    for (int i = 0; i < 16; i++) m |= (uint32_t)(p[i] != 0) << i;
    return m;
}

#include "KernelBodies.h"
