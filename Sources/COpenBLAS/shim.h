// OpenBLAS (pthread variant), owned by the TesseraTensor target.
#include <cblas.h>
