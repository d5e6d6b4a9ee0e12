/* More of glibc's vector libm, for the pointwise kernels (quasar/_pointwise.pxi).
 *
 * glibc 2.35 added vector variants of tan, the inverse trigonometric and
 * hyperbolic functions, exp2/expm1, log2/log10/log1p, erf, atan2 and hypot
 * (float and double). Declared with GCC's simd attribute, as _libmvec.h does
 * for exp/log/sin/cos/tanh/pow, a loop over them is vectorized: 5-20x faster
 * than a libm call per element, within a few ulp of the scalar functions.
 *
 * setup.py defines QUASAR_LIBMVEC_MORE=1 only after a test program using all
 * of them links (a glibc older than 2.35 lacks them: then scalar calls).
 */
#ifndef QUASAR_LIBMVEC_MORE_H
#define QUASAR_LIBMVEC_MORE_H

#include "_libmvec.h"

#if defined(QUASAR_LIBMVEC_MORE) && QUASAR_LIBMVEC_MORE && defined(__GNUC__) && !defined(__clang__)
#define QUASAR_VECTOR_VARIANT_MORE __attribute__((__simd__("notinbranch")))
#define QUASAR_DECLARE_BOTH(name) \
    extern float name##f(float) QUASAR_VECTOR_VARIANT_MORE; \
    extern double name(double) QUASAR_VECTOR_VARIANT_MORE;
QUASAR_DECLARE_BOTH(tan)
QUASAR_DECLARE_BOTH(asin)
QUASAR_DECLARE_BOTH(acos)
QUASAR_DECLARE_BOTH(atan)
QUASAR_DECLARE_BOTH(sinh)
QUASAR_DECLARE_BOTH(cosh)
QUASAR_DECLARE_BOTH(asinh)
QUASAR_DECLARE_BOTH(acosh)
QUASAR_DECLARE_BOTH(atanh)
QUASAR_DECLARE_BOTH(exp2)
QUASAR_DECLARE_BOTH(expm1)
QUASAR_DECLARE_BOTH(log2)
QUASAR_DECLARE_BOTH(log10)
QUASAR_DECLARE_BOTH(log1p)
QUASAR_DECLARE_BOTH(erf)
extern float atan2f(float, float) QUASAR_VECTOR_VARIANT_MORE;
extern double atan2(double, double) QUASAR_VECTOR_VARIANT_MORE;
extern float hypotf(float, float) QUASAR_VECTOR_VARIANT_MORE;
extern double hypot(double, double) QUASAR_VECTOR_VARIANT_MORE;
#undef QUASAR_DECLARE_BOTH
#endif

#endif /* QUASAR_LIBMVEC_MORE_H */
