// Debian's libopenblas-dev puts cblas.h under the variant folder named by pkg-config (openblas-pthread).
#include <cblas.h>
// Thread control, declared by OpenBLAS's cblas.h on most builds; repeated here so the shim
// does not depend on the header variant.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
