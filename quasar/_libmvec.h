/* Vector libm for the kernels: glibc's libmvec.
 *
 * glibc ships each of these functions also for 2/4/8/16 lanes at once
 * (_ZGVdN8v_expf = expf on 8 floats with AVX2, ...). Declaring a function
 * with GCC's simd attribute tells the vectorizer so, and a loop over expf()
 * then becomes a loop over 8-wide expf calls instead of one libm call per
 * element: 5-15x faster, and results within 2 ulp of the scalar functions.
 * The kernels' source does not change: they still call expf, logf, ...
 *
 * setup.py defines QUASAR_LIBMVEC=1 (and links -lmvec) only after it has
 * compiled and linked a test program using all of them; otherwise this
 * header only includes <math.h>. glibc's own <math.h> makes the same
 * declarations, but only under -ffast-math, which quasar never uses.
 */
#ifndef QUASAR_LIBMVEC_H
#define QUASAR_LIBMVEC_H

#include <math.h>

#if defined(QUASAR_LIBMVEC) && QUASAR_LIBMVEC && defined(__GNUC__) && !defined(__clang__)
#define QUASAR_VECTOR_VARIANT __attribute__((__simd__("notinbranch")))
extern float expf(float) QUASAR_VECTOR_VARIANT;
extern float logf(float) QUASAR_VECTOR_VARIANT;
extern float sinf(float) QUASAR_VECTOR_VARIANT;
extern float cosf(float) QUASAR_VECTOR_VARIANT;
extern float tanhf(float) QUASAR_VECTOR_VARIANT;
extern float powf(float, float) QUASAR_VECTOR_VARIANT;
extern double exp(double) QUASAR_VECTOR_VARIANT;
extern double log(double) QUASAR_VECTOR_VARIANT;
extern double sin(double) QUASAR_VECTOR_VARIANT;
extern double cos(double) QUASAR_VECTOR_VARIANT;
extern double tanh(double) QUASAR_VECTOR_VARIANT;
extern double pow(double, double) QUASAR_VECTOR_VARIANT;
#endif

#endif /* QUASAR_LIBMVEC_H */
